"""The graded-set engine: one lifecycle for every kind of crowd work that is graded on hidden gold.

A *set* is one unit of work (one HIT): items of one action that the worker has never been shown,
with hidden gold items at random positions. The engine owns what every kind shares:

- ``assign``: resume the worker's open set or make a new one -- expire their stale sets, keep
  them on the action of their last set while it has work, reserve the work units with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` (``in_flight`` keeps a unit from being handed out beyond
  its redundancy), mix in gold (more during a new worker's probation, alternating truths so a
  one-sided spammer meets the other one), shuffle;
- ``release``: close an open set without work (expired, cancelled, failed); its units return;
- ``submit``: the state machine of a submission -- not found, another worker's, a replay of a
  recorded submission id, closed, expired, blocked worker; then validate, grade gold (more than
  ``max_missed`` missed refuses the attempt without saying which), record the attempt, the
  worker's counters and their refusal history, accept or refuse or fail at the attempt cap, and
  block repeat offenders (``crowd.policy``).

A *kind* (``kinds.SetKind``) supplies what differs: its models, which units are open, its gold
pool, how a submission is parsed and graded, and what an accepted set writes. The Yes/No kind
lives in the annotation app and the drawing kind in the regions app; each registers itself
(``kinds.kind_register``) so that providers and the MTurk review, on the floors above, can find a
set from a typed reference (``kinds.SetRef``) without knowing the apps.
"""
