"""``RUN_DIR/progress.json``: where a training run is, rewritten while it runs.

Whoever started the run follows this file without importing anything of ``ml`` (the platform
reads it to show the run live and to stop a run that has gone silent). It holds::

    {"phase": "train" | "val" | "epoch" | "evaluate" | "done",
     "epoch": 3, "epochs": 10,          # 1-based epoch of the phase
     "step": 120, "steps": 400,         # batches done in this phase, of how many
     "last": {...},                     # the latest epoch's entry of metrics.json
     "updated": 1733312345.6}           # Unix time of this write

Writes are atomic (a temporary file renamed) and at most one every ``every_s`` seconds within
a phase; a change of phase is always written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

__all__ = ["Progress"]


class Progress:
    """The progress file of one run (a no-op when ``path`` is ``None``, e.g. on ranks other than 0)."""

    def __init__(self, path: Path | None, *, every_s: float = 5.0) -> None:
        self.path = path
        self.every_s = every_s
        self.state: dict[str, Any] = {}
        self._written = 0.0

    def update(self, **fields: Any) -> None:
        """Record ``fields``; written when the phase changed or ``every_s`` has passed."""
        changed = fields.get("phase", self.state.get("phase")) != self.state.get("phase")
        self.state.update(fields)
        if changed or time.monotonic() - self._written >= self.every_s:
            self.write()

    def write(self) -> None:
        if self.path is None:
            return
        self.state["updated"] = time.time()
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.state, allow_nan=False, default=str) + "\n")
        tmp.replace(self.path)
        self._written = time.monotonic()
