"""Simulation: the top floor's tools that drive everything else -- simulated annotators working
through the real HTTP API (``simulate_crowd``, ``simulate_regions``) and the demo (``demo``)."""
