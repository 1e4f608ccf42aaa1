"""Background tasks of the mturk app."""
