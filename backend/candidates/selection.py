"""Choosing a round's candidates with numpy: expand relations, drop pairs asked, one per pair, cap per video.

A roll-out chunk of 50,000 videos holds about 100,000 verified labels, which the relations
expand into close to a million candidate pairs of which a few per video are kept. Sorting and
ranking them in numpy takes a fraction of a second; the same window functions in SQL took
PostgreSQL several seconds per chunk. The database still does what it is good at: the
filtered reads and the final set-based INSERT. No Django here.

Every candidate carries a priority, an estimate of its chance of a Yes: a rolled-out
relation's harvest so far or the model's sigmoid score, in [0, 1]; pilots get 2 so that they
come first (a relation cannot be judged until its pilot is asked).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SOURCE_CODES = ("wordnet", "word2vec", "model")
PILOT_PRIORITY = 2.0
NO_RELATION = 0  # relation ids start at 1; the model source has none
NO_RANK = 0  # prediction ranks start at 1; relations have none


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs, one per index: ``(N,)`` arrays.

    Attributes:
        video, action: the pair (database ids).
        relation: the proposing relation's id, ``NO_RELATION`` for the model.
        source: index into ``SOURCE_CODES``.
        score: what the label records (distance, similarity or model score).
        priority: the chance of a Yes used to choose (see the module docstring).
        rank: the model prediction's rank (1 = the model's best), ``NO_RANK`` for relations;
            left out, every candidate gets ``NO_RANK``.
    """

    video: np.ndarray
    action: np.ndarray
    relation: np.ndarray
    source: np.ndarray
    score: np.ndarray
    priority: np.ndarray
    rank: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.rank is None:
            object.__setattr__(self, "rank", np.full(len(self.video), NO_RANK, dtype=np.int64))

    @classmethod
    def empty(cls) -> Candidates:
        ints, floats = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return cls(ints, ints, ints, np.zeros(0, dtype=np.int8), floats, floats, ints)

    def __len__(self) -> int:
        return len(self.video)

    def take(self, index: np.ndarray) -> Candidates:
        return Candidates(*(getattr(self, name)[index] for name in self.__dataclass_fields__))

    @classmethod
    def concat(cls, parts: Sequence[Candidates]) -> Candidates:
        parts = [part for part in parts if len(part)]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in cls.__dataclass_fields__))

    def rows(self) -> list[tuple]:
        """``(video, action, relation or None, source, score, rank or None)`` tuples for writing."""
        relations = [None if r == NO_RELATION else r for r in self.relation.tolist()]
        sources = [SOURCE_CODES[s] for s in self.source.tolist()]
        ranks = [None if r == NO_RANK else r for r in self.rank.tolist()]
        return list(zip(self.video.tolist(), self.action.tolist(), relations, sources, self.score.tolist(), ranks))


@dataclass(frozen=True)
class RelationArrays:
    """Relations as ``(R,)`` arrays sorted by ``from_action``, for expansion."""

    relation: np.ndarray
    from_action: np.ndarray
    to_action: np.ndarray
    source: np.ndarray
    score: np.ndarray
    priority: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple]) -> RelationArrays:
        """Rows ``(id, from_action, to_action, source, score, priority)``."""
        rows = sorted(rows, key=lambda row: (row[1], row[0]))
        return cls(
            relation=np.array([row[0] for row in rows], dtype=np.int64),
            from_action=np.array([row[1] for row in rows], dtype=np.int64),
            to_action=np.array([row[2] for row in rows], dtype=np.int64),
            source=np.array([SOURCE_CODES.index(row[3]) for row in rows], dtype=np.int8),
            score=np.array([row[4] for row in rows], dtype=np.float64),
            priority=np.array([row[5] for row in rows], dtype=np.float64),
        )


def expand(verified_video: np.ndarray, verified_action: np.ndarray, relations: RelationArrays) -> Candidates:
    """Every ``(video, to_action)`` a relation proposes for the verified pairs ``(video, from_action)``."""
    if not len(verified_video) or not len(relations.relation):
        return Candidates.empty()
    starts = np.searchsorted(relations.from_action, verified_action, side="left")
    counts = np.searchsorted(relations.from_action, verified_action, side="right") - starts
    total = int(counts.sum())
    # Index of each output row's relation: starts[i], starts[i] + 1, ... for counts[i] rows.
    first_row = np.cumsum(counts) - counts
    index = np.repeat(starts - first_row, counts) + np.arange(total)
    return Candidates(
        video=np.repeat(verified_video, counts),
        action=relations.to_action[index],
        relation=relations.relation[index],
        source=relations.source[index],
        score=relations.score[index],
        priority=relations.priority[index],
    )


# A pilot draws its videos in a pseudo-random order of its own, so that different relations
# from the same action pilot on different videos (and do not compete for the same videos'
# per-round cap) and the sample does not follow import order: video * a + b modulo a prime,
# with a multiplier `a` that depends on the relation. (An offset alone would not do: every
# relation would get the same order, rotated.)
_HASH_RELATION, _HASH_OFFSET, _HASH_MODULUS = 104729, 7919, 1000003
# Rows are first thinned to about this many times the quota (Bernoulli on the same hash) so
# that only a few hundred rows per relation are checked against the pairs already asked.
_OVERSAMPLE = 4


def pilot_draw(video: np.ndarray, relation: np.ndarray) -> np.ndarray:
    """Each (video, relation)'s place in the relation's pilot order (smaller draws first)."""
    relation = relation.astype(np.int64)
    multiplier = 1 + (relation * _HASH_RELATION) % (_HASH_MODULUS - 1)
    return (video.astype(np.int64) * multiplier + relation * _HASH_OFFSET) % _HASH_MODULUS


# A cutoff admitting every eligible video (the relation has fewer than its quota).
ALL_ELIGIBLE = (_HASH_MODULUS, 0)


def pilot_cutoffs(verified_video: np.ndarray, verified_action: np.ndarray, relations: RelationArrays,
                  quota: np.ndarray, *, asked: np.ndarray, width: int) -> dict[int, tuple[int, int]]:
    """Where each pilot relation's sample ends: the ``(draw, video)`` of its ``quota``-th eligible video.

    A video is eligible when it is verified with the relation's ``from`` action and has no
    label for its ``to`` action (``asked``: sorted pair keys). The sample is then "the eligible
    videos up to the cutoff", which every chunk of a round can apply to its own videos.

    Returns:
        ``{relation id: (draw, video)}``; ``ALL_ELIGIBLE`` when fewer videos are eligible than
        the quota. Relations with no quota left are absent.
    """
    order = np.argsort(verified_action, kind="stable")
    videos_by_action, actions = verified_video[order], verified_action[order]
    starts = np.searchsorted(actions, relations.from_action, side="left")
    ends = np.searchsorted(actions, relations.from_action, side="right")
    cutoffs: dict[int, tuple[int, int]] = {}
    for i in np.flatnonzero(quota > 0):
        relation, wanted = int(relations.relation[i]), int(quota[i])
        videos = videos_by_action[starts[i]:ends[i]]
        draw = pilot_draw(videos, np.full(len(videos), relation))
        # Thin to a few times the quota before the membership test (Bernoulli on the draw),
        # falling back to every row when that leaves too few eligible videos.
        thin = draw * len(videos) < _HASH_MODULUS * _OVERSAMPLE * wanted
        to_action = np.full(len(videos), relations.to_action[i])
        rows = np.flatnonzero(thin)
        rows = rows[~_member(pair_keys(videos[rows], to_action[rows], width=width), asked)]
        if len(rows) < wanted and not thin.all():
            rows = np.flatnonzero(~_member(pair_keys(videos, to_action, width=width), asked))
        if len(rows) < wanted:
            cutoffs[relation] = ALL_ELIGIBLE
            continue
        last = rows[np.lexsort((videos[rows], draw[rows]))[wanted - 1]]
        cutoffs[relation] = (int(draw[last]), int(videos[last]))
    return cutoffs


def pilot_candidates(verified_video: np.ndarray, verified_action: np.ndarray, relations: RelationArrays,
                     cutoffs: dict[int, tuple[int, int]]) -> Candidates:
    """The pilot pairs among these verified pairs: the rows up to their relation's cutoff."""
    expanded = expand(verified_video, verified_action, relations)
    if not len(expanded):
        return expanded
    bound = np.array([cutoffs[int(r)] for r in relations.relation], dtype=np.int64).reshape(-1, 2)
    position = np.searchsorted(relations.relation, expanded.relation, sorter=np.argsort(relations.relation))
    by_id = np.argsort(relations.relation)[position]
    draw = pilot_draw(expanded.video, expanded.relation)
    limit_draw, limit_video = bound[by_id, 0], bound[by_id, 1]
    inside = (draw < limit_draw) | ((draw == limit_draw) & (expanded.video <= limit_video))
    chosen = expanded.take(np.flatnonzero(inside))
    return Candidates(chosen.video, chosen.action, chosen.relation, chosen.source, chosen.score,
                      np.full(len(chosen), PILOT_PRIORITY))


def pair_keys(video: np.ndarray, action: np.ndarray, *, width: int) -> np.ndarray:
    """One int64 per (video, action); ``width`` exceeds every action id."""
    return video.astype(np.int64) * width + action.astype(np.int64)


def best_prediction(video: np.ndarray, action: np.ndarray, rank: np.ndarray, score: np.ndarray,
                    *, asked: np.ndarray, width: int, per_video: int = 1,
                    proposed_video: np.ndarray | None = None, proposed_count: np.ndarray | None = None) -> Candidates:
    """Per video, its ``per_video`` best-ranked predictions of actions not asked yet, less what the run proposed.

    Section 3.1.1: the model source proposes "the top-1 predictions for each video that are not
    currently annotated" (``per_video`` 1), once per model run: a video the run already proposed
    to ``per_video`` times (``proposed_video``, sorted, with ``proposed_count``) gets nothing
    more from it, so later rounds do not walk down its ranks.

    Args:
        video, action, rank, score: one model run's predictions, ``(N,)`` each.
        asked: sorted pair keys of the pairs labelled (any state) or asked.
        per_video: the k of the dataset's model source (``CandidateSource.top_k``).
        proposed_video, proposed_count: the videos this run proposed to in earlier rounds and
            how many times.

    Returns:
        The candidates, with their ``rank``.
    """
    keep = ~_member(pair_keys(video, action, width=width), asked)
    video, action, rank, score = video[keep], action[keep], rank[keep], score[keep]
    order = np.lexsort((rank, video))
    sorted_video = video[order]
    starts = _group_starts(sorted_video)
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0)) if len(order) else order
    position = np.arange(len(order)) - group_start
    room = np.full(len(order), per_video, dtype=np.int64)
    if proposed_video is not None and len(proposed_video):
        at = np.minimum(np.searchsorted(proposed_video, sorted_video), len(proposed_video) - 1)
        room -= np.where(proposed_video[at] == sorted_video, proposed_count[at], 0)
    chosen = order[position < room]
    return Candidates(
        video=video[chosen], action=action[chosen], relation=np.full(len(chosen), NO_RELATION, dtype=np.int64),
        source=np.full(len(chosen), SOURCE_CODES.index("model"), dtype=np.int8),
        score=score[chosen].astype(np.float64), priority=score[chosen].astype(np.float64),
        rank=rank[chosen].astype(np.int64),
    )


def choose(candidates: Candidates, *, asked: np.ndarray, used_video: np.ndarray, used_count: np.ndarray,
           cap: int, width: int) -> Candidates:
    """The candidates a round proposes.

    1. Pairs already asked (``asked``: sorted pair keys) are dropped.
    2. One candidate per pair: the highest priority, then the lowest relation id.
    3. Per video at most ``cap`` minus what the round already proposed to it
       (``used_video``/``used_count``), highest priority first, then relation id, then action.

    Returns:
        The chosen candidates, sorted by video (the order the database indexes like best).
    """
    if not len(candidates):
        return candidates
    keys = pair_keys(candidates.video, candidates.action, width=width)
    fresh = np.flatnonzero(~_member(keys, asked))
    candidates, keys = candidates.take(fresh), keys[fresh]
    order = np.lexsort((candidates.relation, -candidates.priority, keys))
    candidates = candidates.take(order[_group_starts(keys[order])])

    order = np.lexsort((candidates.action, candidates.relation, -candidates.priority, candidates.video))
    candidates = candidates.take(order)
    starts = _group_starts(candidates.video)
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(candidates)), 0))
    rank = np.arange(len(candidates)) - group_start
    room = np.full(len(candidates), cap, dtype=np.int64)
    if len(used_video):
        position = np.searchsorted(used_video, candidates.video)
        position = np.minimum(position, len(used_video) - 1)
        room -= np.where(used_video[position] == candidates.video, used_count[position], 0)
    return candidates.take(np.flatnonzero(rank < room))


def _member(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[position] == keys


def _group_starts(sorted_values: np.ndarray) -> np.ndarray:
    """True where a run of equal values starts."""
    starts = np.ones(len(sorted_values), dtype=bool)
    starts[1:] = sorted_values[1:] != sorted_values[:-1]
    return starts
