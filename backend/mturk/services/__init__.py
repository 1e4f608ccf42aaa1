"""Writes of the mturk app: publishing, the page inside MTurk, the review loop, worker actions."""
