"""Simulated worker groups (WORKERS.json) and how a simulated worker answers."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from backend.common.errors import DomainError

WORKERS_BAD = "Workers file {path}: {problem}."


@dataclass(frozen=True)
class Group:
    name: str
    count: int
    sensitivity: float
    specificity: float
    speed: float = 10.0  # answers per minute
    dropout: float = 0.0  # probability of abandoning a set

    @property
    def is_spammer(self) -> bool:
        # answers that ignore the truth: P(yes | true) == P(yes | false)
        return abs(self.sensitivity - (1 - self.specificity)) < 1e-9


@dataclass
class SimWorker:
    name: str
    group: Group
    rng: random.Random
    clock: float = 0.0  # simulated minutes of work done

    def answer(self, truth: bool) -> bool:
        p_yes = self.group.sensitivity if truth else 1 - self.group.specificity
        return self.rng.random() < p_yes

    def abandons(self) -> bool:
        return self.rng.random() < self.group.dropout

    def seconds_per_answer(self) -> float:
        return 60.0 / max(self.group.speed, 1e-6)


def load_groups(path: Path) -> list[Group]:
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DomainError(WORKERS_BAD.format(path=path, problem=exc)) from exc
    if not isinstance(raw, list) or not raw:
        raise DomainError(WORKERS_BAD.format(path=path, problem="expected a non-empty list of groups"))
    groups = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise DomainError(WORKERS_BAD.format(path=path, problem=f"group {n} is not an object"))
        try:
            if not isinstance(entry.get("name"), str) or not isinstance(entry.get("count"), int):
                raise TypeError("name must be text and count an integer")
            group = Group(
                name=str(entry["name"]), count=int(entry["count"]), sensitivity=float(entry["sensitivity"]),
                specificity=float(entry["specificity"]), speed=float(entry.get("speed", 10.0)),
                dropout=float(entry.get("dropout", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DomainError(WORKERS_BAD.format(path=path, problem=f"group {n}: {exc!r}")) from exc
        if group.count < 0 or not (0 <= group.sensitivity <= 1 and 0 <= group.specificity <= 1) \
                or not 0 <= group.dropout <= 1 or group.speed <= 0:
            raise DomainError(WORKERS_BAD.format(path=path, problem=f"group {group.name}: values out of range"))
        groups.append(group)
    if len({g.name for g in groups}) != len(groups):
        raise DomainError(WORKERS_BAD.format(path=path, problem="group names must be unique"))
    return groups


def make_workers(groups: list[Group], *, seed: int, run: str) -> list[SimWorker]:
    """The population, each worker coming online at a random moment of the first minute, so
    that work is not handed out group by group (the first sets would all go to the first group).

    Names read ``<group>-<n>@<run>``: what tells workers apart comes first (pages that shorten
    long ids keep it), and the run keeps every simulation's workers its own."""
    master = random.Random(seed)
    workers = [
        SimWorker(name=f"{g.name}-{i:03d}@{run}", group=g, rng=random.Random(master.getrandbits(64)))
        for g in groups for i in range(g.count)
    ]
    for w in workers:
        w.clock = w.rng.random()
    return workers
