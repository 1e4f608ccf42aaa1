"""What the vocabulary announces to the apps above it, which connect in their ``ready()``.

``action_merged(source=, target=)`` is sent inside the merge's transaction, before ``source`` is
archived; each receiver moves what it holds for ``source`` onto ``target`` and returns a dict of
counts, which the merge adds to its summary and its audit event (the labels app: ``moved``,
``superseded``, ``upgraded``). A receiver that raises rolls the whole merge back.
"""
from django.dispatch import Signal

action_merged = Signal()
