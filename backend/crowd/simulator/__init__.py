"""The crowd simulator: simulated annotators working through the real HTTP API."""
