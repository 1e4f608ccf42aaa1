"""The knobs of candidate generation, read from settings once per round and recorded with it.

Every value has a default here and an optional setting (``MMIT_CANDIDATE_*``); a round takes
a ``RoundPolicy`` so tests and benchmarks pass their own without touching settings.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from django.conf import settings

from backend.common.errors import DomainError

HARVEST_THRESHOLD_OUT_OF_RANGE = "The harvest threshold must be a share between 0 and 1, got {value}."
SIMILARITY_THRESHOLD_OUT_OF_RANGE = (
    "The Word2Vec similarity threshold must be a cosine similarity between -1 and 1, got {value}."
)
JUDGED_FRACTION_OUT_OF_RANGE = "The judged fraction must be above 0 and at most 1, got {value}."
POLICY_NOT_POSITIVE = "{name} must be 1 or more, got {value}."
DISTANCES_OUT_OF_ORDER = (
    "The WordNet start distance ({start}) must be between 0 and the maximum distance ({maximum})."
)


@dataclass(frozen=True)
class RoundPolicy:
    """How a round proposes, judges and stops.

    Attributes:
        harvest_threshold: relations and sources stop when their harvest rate (Yes consensus
            over decided labels) falls below it; the paper's 20%.
        pilot_size: videos a new relation is tried on before it is rolled out.
        per_video_cap: new questions per video per round, all sources together.
        judged_fraction: share of a group's labels that must be decided before its harvest is
            trusted (a few questions may stay open for a long time).
        wordnet_start_distance, wordnet_max_distance: the node distance d of the first
            WordNet round and the farthest it grows to.
        word2vec_threshold, word2vec_limit: Word2Vec relations link an action to at most
            ``limit`` actions at least this similar.
        chunk_videos: video ids per roll-out transaction (bounds memory and lost work).
        workers: chunks rolled out at once, each on its own database connection (PostgreSQL,
            when the round is not run inside an outer transaction); the database does the
            work, so this is about using the database server's cores.
    """

    harvest_threshold: float = 0.2
    pilot_size: int = 50
    per_video_cap: int = 1
    judged_fraction: float = 0.9
    wordnet_start_distance: int = 1
    wordnet_max_distance: int = 3
    word2vec_threshold: float = 0.6
    word2vec_limit: int = 10
    chunk_videos: int = 50_000
    workers: int = 2

    @classmethod
    def from_settings(cls, **overrides) -> RoundPolicy:
        """The defaults, overridden by ``MMIT_CANDIDATE_<FIELD>`` settings, then by ``overrides``."""
        values = {
            field.name: getattr(settings, f"MMIT_CANDIDATE_{field.name.upper()}", field.default)
            for field in fields(cls)
        }
        values.update(overrides)
        policy = cls(**values)
        policy.validate()
        return policy

    def validate(self) -> None:
        """Raise ``DomainError`` on a value a round cannot run with."""
        if not _number_between(self.harvest_threshold, 0.0, 1.0):
            raise DomainError(HARVEST_THRESHOLD_OUT_OF_RANGE.format(value=self.harvest_threshold), field="threshold")
        if not _number_between(self.word2vec_threshold, -1.0, 1.0):
            raise DomainError(
                SIMILARITY_THRESHOLD_OUT_OF_RANGE.format(value=self.word2vec_threshold), field="similarity"
            )
        if not _number_between(self.judged_fraction, 0.0, 1.0) or self.judged_fraction == 0:
            raise DomainError(JUDGED_FRACTION_OUT_OF_RANGE.format(value=self.judged_fraction))
        for name in ("pilot_size", "per_video_cap", "word2vec_limit", "chunk_videos", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DomainError(POLICY_NOT_POSITIVE.format(name=name, value=value), field=name)
        start, maximum = self.wordnet_start_distance, self.wordnet_max_distance
        if not (isinstance(start, int) and isinstance(maximum, int) and 0 <= start <= maximum):
            raise DomainError(DISTANCES_OUT_OF_ORDER.format(start=start, maximum=maximum))

    def as_dict(self) -> dict:
        return asdict(self)


def _number_between(value, low: float, high: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return False
    return low <= value <= high
