"""Writes of the Action Regions pipeline (one module per step)."""
