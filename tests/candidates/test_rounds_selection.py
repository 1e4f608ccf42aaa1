"""The numpy choice of a round's candidates, against brute-force references (no database)."""
from __future__ import annotations

import numpy as np
import pytest

from backend.candidates.selection import (
    ALL_ELIGIBLE,
    NO_RELATION,
    PILOT_PRIORITY,
    SOURCE_CODES,
    Candidates,
    RelationArrays,
    best_prediction,
    choose,
    expand,
    pair_keys,
    pilot_candidates,
    pilot_cutoffs,
    pilot_draw,
)

WIDTH = 100
NOTHING = np.zeros(0, dtype=np.int64)


def relations(*rows) -> RelationArrays:
    """Rows (id, from, to, priority); source word2vec, score 0.5 + id / 100."""
    return RelationArrays.from_rows([(i, a, b, "word2vec", 0.5 + i / 100, p) for i, a, b, p in rows])


def candidates(*rows) -> Candidates:
    """Rows (video, action, relation, priority)."""
    video, action, relation, priority = (np.array(column) for column in zip(*rows))
    return Candidates(video=video.astype(np.int64), action=action.astype(np.int64),
                      relation=relation.astype(np.int64), source=np.zeros(len(rows), dtype=np.int8),
                      score=priority.astype(np.float64), priority=priority.astype(np.float64))


def as_set(chosen: Candidates) -> set[tuple[int, int, int]]:
    return set(zip(chosen.video.tolist(), chosen.action.tolist(), chosen.relation.tolist()))


def test_expand_proposes_every_relation_of_every_verified_action():
    rel = relations((1, 10, 20, 0.5), (2, 10, 21, 0.4), (3, 11, 22, 0.9))
    out = expand(np.array([5, 5, 6]), np.array([10, 11, 12]), rel)
    assert as_set(out) == {(5, 20, 1), (5, 21, 2), (5, 22, 3)}
    assert out.score.tolist() == [0.51, 0.52, 0.53] and SOURCE_CODES[out.source[0]] == "word2vec"
    assert len(expand(NOTHING, NOTHING, rel)) == 0


def test_choose_skips_asked_pairs_keeps_the_likeliest_per_pair_and_caps_per_video():
    rows = candidates(
        (1, 20, 1, 0.3), (1, 20, 2, 0.8),  # the same pair from two relations: 0.8 wins
        (1, 21, 3, 0.5), (1, 22, 4, 0.1),
        (2, 20, 1, 0.3), (2, 23, 5, 0.3),  # a tie: the lower relation id first
        (3, 24, 6, 0.9),  # already asked
    )
    asked = np.sort(pair_keys(np.array([3]), np.array([24]), width=WIDTH))
    chosen = choose(rows, asked=asked, used_video=NOTHING, used_count=NOTHING, cap=2, width=WIDTH)
    assert as_set(chosen) == {(1, 20, 2), (1, 21, 3), (2, 20, 1), (2, 23, 5)}
    assert chosen.video.tolist() == sorted(chosen.video.tolist())
    used = choose(rows, asked=asked, used_video=np.array([1, 2]), used_count=np.array([1, 2]), cap=2, width=WIDTH)
    assert as_set(used) == {(1, 20, 2)}  # video 1 had one slot left, video 2 none


def test_the_model_proposes_its_best_ranked_action_not_asked():
    video, action = np.array([1, 1, 1, 2, 2]), np.array([30, 31, 32, 30, 33])
    rank, score = np.array([1, 2, 3, 2, 1]), np.array([0.9, 0.6, 0.2, 0.5, 0.7])
    asked = np.sort(pair_keys(np.array([1]), np.array([30]), width=WIDTH))
    best = best_prediction(video, action, rank, score, asked=asked, width=WIDTH)
    assert set(zip(best.video.tolist(), best.action.tolist(), best.priority.tolist())) == {(1, 31, 0.6), (2, 33, 0.7)}
    assert set(best.relation.tolist()) == {NO_RELATION} and {SOURCE_CODES[s] for s in best.source} == {"model"}


def reference_sample(videos, relation_id, quota, asked_videos):
    eligible = [v for v in videos if v not in asked_videos]
    ordered = sorted(eligible, key=lambda v: (int(pilot_draw(np.array([v]), np.array([relation_id]))[0]), v))
    return set(ordered[:quota])


@pytest.mark.parametrize("asked_share", [0.0, 0.9])
def test_pilot_samples_drawn_once_are_reproduced_chunk_by_chunk(asked_share):
    rng = np.random.default_rng(7)
    videos = np.arange(1, 5001)
    verified_action = rng.choice([10, 11, 12], size=len(videos), p=[0.7, 0.296, 0.004])
    rel = relations((1, 10, 20, 0.0), (2, 10, 21, 0.0), (3, 11, 20, 0.0), (4, 12, 22, 0.0))
    quota = np.array([50, 50, 50, 50])
    asked_videos = set(rng.choice(videos, size=int(asked_share * len(videos)), replace=False).tolist())
    asked = np.sort(pair_keys(np.array(sorted(asked_videos), dtype=np.int64),
                              np.full(len(asked_videos), 20), width=WIDTH))
    cutoffs = pilot_cutoffs(videos, verified_action, rel, quota, asked=asked, width=WIDTH)
    assert cutoffs[4] == ALL_ELIGIBLE  # about 20 videos verified with action 12: all of them

    picked: set[tuple[int, int, int]] = set()
    for low in range(1, 5001, 700):  # chunks of videos, as a round's roll-out takes them
        part = slice(low - 1, low - 1 + 700)
        drawn = pilot_candidates(videos[part], verified_action[part], rel, cutoffs)
        assert set(drawn.priority.tolist()) <= {PILOT_PRIORITY}
        chosen = choose(drawn, asked=asked, used_video=NOTHING, used_count=NOTHING, cap=10, width=WIDTH)
        picked |= as_set(chosen)
    for relation_id, from_action, to_action in ((1, 10, 20), (2, 10, 21), (3, 11, 20), (4, 12, 22)):
        got = {v for v, a, r in picked if r == relation_id}
        pool = videos[verified_action == from_action].tolist()
        already = asked_videos if to_action == 20 else set()
        assert got == reference_sample(pool, relation_id, 50, already)


def test_relations_with_no_quota_left_draw_nothing():
    rel = relations((1, 10, 20, 0.0))
    cutoffs = pilot_cutoffs(np.array([1, 2, 3]), np.array([10, 10, 10]), rel, np.array([0]), asked=NOTHING,
                            width=WIDTH)
    assert cutoffs == {}
    assert len(pilot_candidates(np.array([1]), np.array([10]), relations(), cutoffs)) == 0


def test_rows_for_writing_name_sources_and_relations():
    chosen = Candidates(video=np.array([4]), action=np.array([7]), relation=np.array([NO_RELATION]),
                        source=np.array([SOURCE_CODES.index("model")], dtype=np.int8), score=np.array([0.25]),
                        priority=np.array([0.25]))
    assert chosen.rows() == [(4, 7, None, "model", 0.25, None)]  # no rank given: none written
