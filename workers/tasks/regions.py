"""Background tasks of the regions app."""
