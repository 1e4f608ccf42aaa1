"""What the crowd app announces to the apps above it, which connect in their ``ready()``.

- ``worker_blocked(worker=, reason=)``: sent inside ``worker_block``'s transaction once the block
  is recorded. The work apps withdraw the worker's open work (annotation: their open sets and
  their answers to open questions; regions: their drawing sets and drawings); the MTurk app
  mirrors the block on MTurk after the commit.
- ``worker_unblocked(worker=)``: sent inside ``worker_unblock``'s transaction (MTurk lifts its
  blocks after the commit).

A receiver that raises rolls the block back with the rest of the transaction.
"""
from django.dispatch import Signal

worker_blocked = Signal()
worker_unblocked = Signal()
