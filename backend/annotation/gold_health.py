"""Gold health (a read): which gold questions are probably wrong.

A gold item's truth was typed or promoted by a person, and people slip. A wrong gold pair shows
itself in its answers: the workers who are right on the rest of the gold keep "missing" it. So, per
gold item, only the answers of *good* workers count, where good is judged on the worker's OTHER gold
answers (this item's left out, or a wrong item would make everyone who answers it honestly look bad):

- a worker is good for an item when they gave at least ``GOOD_MIN_OTHER_ANSWERS`` answers to other
  gold of the dataset, at least ``GOOD_MIN_ACCURACY`` of them correct;
- an active item is *probably wrong* when at least ``FLAG_MIN_GOOD_WORKERS`` good workers answered
  it and their answers miss it at a rate of at least ``FLAG_MISS_RATE``.

An answer is right when it matches the item's truth as it stands now (not the grade stored when it
was given), so a gold pair uploaded again with its truth fixed stops being flagged.

One grouped query (answers per gold item and worker) and numpy over its rows: no query per answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import Count, F, Q

from backend.annotation.models import GoldAnswer, GoldQuestion
from backend.videos.models import Dataset

GOOD_MIN_OTHER_ANSWERS = 5
GOOD_MIN_ACCURACY = 0.8
FLAG_MIN_GOOD_WORKERS = 3
FLAG_MISS_RATE = 0.5


@dataclass
class GoldHealth:
    gold: GoldQuestion
    answers: int  # every answer to the item (all workers, all attempts)
    correct: int
    good_workers: int  # distinct good workers who answered it
    good_answers: int
    good_misses: int

    @property
    def miss_rate(self) -> float | None:
        """Share of good workers' answers that disagree with the stored truth (None: no such answers)."""
        return self.good_misses / self.good_answers if self.good_answers else None

    @property
    def flagged(self) -> bool:
        rate = self.miss_rate
        return (self.gold.active and rate is not None and self.good_workers >= FLAG_MIN_GOOD_WORKERS
                and rate >= FLAG_MISS_RATE)


def gold_health(*, dataset: Dataset) -> list[GoldHealth]:
    """Every gold question of the dataset with its figures: probably-wrong items first, then the
    other active items by good workers' miss rate (highest first), retired items last."""
    pairs = np.array(
        list(GoldAnswer.objects.filter(gold__dataset=dataset).order_by().values("gold_id", "worker_id")
             .annotate(n=Count("id"), c=Count("id", filter=Q(value=F("gold__truth"))))
             .values_list("gold_id", "worker_id", "n", "c")),
        dtype=np.int64,
    ).reshape(-1, 4)
    golds = list(GoldQuestion.objects.filter(dataset=dataset).select_related("video", "action"))
    figures: dict[int, tuple[int, ...]] = {}
    if len(pairs):
        g_ids, g_idx = np.unique(pairs[:, 0], return_inverse=True)
        _, w_idx = np.unique(pairs[:, 1], return_inverse=True)
        n, c = pairs[:, 2], pairs[:, 3]
        worker_n = np.bincount(w_idx, weights=n)
        worker_c = np.bincount(w_idx, weights=c)
        other_n, other_c = worker_n[w_idx] - n, worker_c[w_idx] - c
        good = (other_n >= GOOD_MIN_OTHER_ANSWERS) & (other_c >= GOOD_MIN_ACCURACY * other_n)
        size = len(g_ids)
        columns = [np.bincount(g_idx, weights=w, minlength=size).astype(np.int64)
                   for w in (n, c, good, n * good, (n - c) * good)]
        figures = {int(gid): tuple(int(col[i]) for col in columns) for i, gid in enumerate(g_ids)}
    rows = [GoldHealth(g, *figures.get(g.pk, (0, 0, 0, 0, 0))) for g in golds]
    rows.sort(key=lambda r: (not r.flagged, not r.gold.active, -(r.miss_rate or 0.0), r.gold.pk))
    return rows
