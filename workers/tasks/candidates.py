"""Candidate rounds as background jobs."""
