"""Proposing candidates: filtered reads, a numpy choice, one INSERT ... SELECT -- never a query per video.

A candidate is a pending ``Label`` carrying its source, relation, round and score. Each step
reads whole sets (the verified labels of a range of videos, the pairs they already have, the
relations, the model's predictions and what its run already proposed), chooses with
``selection`` (pairs already proposed, asked or labelled are skipped, one proposal per pair,
at most ``per_video_cap`` per video per round, at most the model source's ``top_k`` per video
per model run) and writes the chosen rows with COPY into a temporary table and one INSERT ...
SELECT into the labels (and one into ``ModelProposal`` for the model's rank and run). ON
CONFLICT DO NOTHING on the (video, action) unique constraint covers a pair written by someone
else in the meantime.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from django.db import connection
from django.db.models import Max

from backend.annotation.models import Question
from backend.candidates.models import ModelProposal, Prediction, Relation, Source
from backend.candidates.selection import (
    ALL_ELIGIBLE,
    PILOT_PRIORITY,
    Candidates,
    RelationArrays,
    best_prediction,
    choose,
    expand,
    pair_keys,
    pilot_candidates,
    pilot_cutoffs,
)
from backend.candidates.sql import copy_into, fetch_array, insert_select, quote, table
from backend.labels.models import Label
from backend.videos.models import Dataset, Split, Video
from backend.vocabulary.models import Action

# Video id ranges are half-open [low, high); this one covers every id.
ALL_VIDEOS = (0, 1 << 62)

_CHOSEN = "candidates_chosen"  # the temporary table the chosen rows are copied into


def _in(values: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(values))


def _fetch(sql: str, params: Sequence) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _width() -> int:
    """Exceeds every action id: the multiplier that packs a (video, action) pair into one int64."""
    return (Action.objects.aggregate(top=Max("id"))["top"] or 0) + 1


def pilot_cutoffs_compute(*, dataset: Dataset, sources: Sequence[str], pilot_size: int) -> dict[int, tuple[int, int]]:
    """Where the sample of every pilot relation with quota left ends (``selection.pilot_cutoffs``).

    A pilot asks up to ``pilot_size`` videos in all: each relation draws the eligible videos
    (verified with its ``from`` action, no label for its ``to`` action) in its own
    pseudo-random order. Computed once per round over the whole dataset; the chunks then
    propose the pilots' pairs among their own videos.
    """
    if not sources:
        return {}
    rows = _fetch(
        f"""SELECT r.id, r.from_action_id, r.to_action_id, r.source, r.score, r.asked
            FROM {table(Relation)} r JOIN {table(Action)} ta ON ta.id = r.to_action_id
            WHERE r.dataset_id = %s AND r.state = %s AND r.source IN ({_in(sources)}) AND ta.status = %s
              AND r.asked < %s""",
        [dataset.id, Relation.State.PILOT, *sources, Action.Status.ACTIVE, pilot_size],
    )
    if not rows:
        return {}
    relations = RelationArrays.from_rows([(*row[:5], PILOT_PRIORITY) for row in rows])
    asked_so_far = {row[0]: row[5] for row in rows}
    quota = pilot_size - np.array([asked_so_far[r] for r in relations.relation.tolist()], dtype=np.int64)
    width = _width()
    verified = _verified(dataset=dataset, low=ALL_VIDEOS[0], high=ALL_VIDEOS[1])
    existing = fetch_array(f"SELECT video_id, action_id FROM {table(Label)} WHERE dataset_id = %s", [dataset.id],
                           columns=2)
    asked = np.sort(pair_keys(existing[:, 0], existing[:, 1], width=width))
    cutoffs = pilot_cutoffs(verified[:, 0], verified[:, 1], relations, quota, asked=asked, width=width)
    exhausted = [relation for relation, cutoff in cutoffs.items() if cutoff == ALL_ELIGIBLE]
    Relation.objects.filter(pk__in=exhausted, pilot_exhausted=False).update(pilot_exhausted=True)
    return cutoffs


def _verified(*, dataset: Dataset, low: int, high: int) -> np.ndarray:
    """``(N, 2)`` verified (video, action) pairs of the dataset's usable videos in [low, high).

    The range is repeated on the videos side of the join (here and below): without it the
    planner reads every video of the dataset to join a chunk's few thousand.
    """
    return fetch_array(
        f"""SELECT pos.video_id, pos.action_id FROM {table(Label)} pos JOIN {table(Video)} v ON v.id = pos.video_id
            WHERE pos.dataset_id = %s AND pos.state = %s AND pos.video_id >= %s AND pos.video_id < %s
              AND v.id >= %s AND v.id < %s AND v.status = %s""",
        [dataset.id, Label.State.POSITIVE, low, high, low, high, Video.Status.OK],
        columns=2,
    )


def proposals_chunk(*, dataset: Dataset, round_number: int, sources: Sequence[str],
                    pilot_cutoffs: dict[int, tuple[int, int]], prediction_set_id: int | None, cap: int,
                    low: int, high: int, model_top_k: int = 1) -> int:
    """Propose for the videos with ids in [low, high): pilots, rolled-out relations, the model.

    Args:
        sources: the sources running in the round.
        pilot_cutoffs: the round's pilot relations and where their samples end.
        prediction_set_id: the predictions (model run) the model source reads (None: no model
            proposals).
        cap: proposals per video in the round.
        model_top_k: proposals per video per model run (the paper's top-1: 1); a video the run
            proposed to that often in earlier rounds gets nothing more from it.

    Returns:
        The number of labels written.
    """
    relation_sources = [source for source in sources if source != Source.MODEL]
    use_model = Source.MODEL in sources and prediction_set_id is not None
    if not relation_sources and not use_model:
        return 0
    width = _width()
    existing = fetch_array(
        f"SELECT video_id, action_id, round FROM {table(Label)} WHERE video_id >= %s AND video_id < %s",
        [low, high], columns=3,
    )
    asked = np.sort(pair_keys(existing[:, 0], existing[:, 1], width=width))
    used_video, used_count = np.unique(existing[existing[:, 2] == round_number, 0], return_counts=True)

    parts = []
    if relation_sources:
        rows = _fetch(
            f"""SELECT r.id, r.from_action_id, r.to_action_id, r.source, r.score, COALESCE(r.harvest, 0), r.state
                FROM {table(Relation)} r JOIN {table(Action)} ta ON ta.id = r.to_action_id
                WHERE r.dataset_id = %s AND r.state IN (%s, %s) AND r.source IN ({_in(relation_sources)})
                  AND ta.status = %s""",
            [dataset.id, Relation.State.ACTIVE, Relation.State.PILOT, *relation_sources, Action.Status.ACTIVE],
        )
        active = RelationArrays.from_rows([row[:6] for row in rows if row[6] == Relation.State.ACTIVE])
        pilots = RelationArrays.from_rows([row[:6] for row in rows if row[0] in pilot_cutoffs])
        verified = _verified(dataset=dataset, low=low, high=high)
        parts.append(pilot_candidates(verified[:, 0], verified[:, 1], pilots, pilot_cutoffs))
        parts.append(expand(verified[:, 0], verified[:, 1], active))
    if use_model:
        predictions = fetch_array(
            f"""SELECT p.video_id, p.action_id, p.{quote('rank')}, p.score
                FROM {table(Prediction)} p
                JOIN {table(Video)} v ON v.id = p.video_id JOIN {table(Action)} pa ON pa.id = p.action_id
                WHERE p.prediction_set_id = %s AND p.video_id >= %s AND p.video_id < %s
                  AND v.id >= %s AND v.id < %s AND v.status = %s AND pa.status = %s""",
            [prediction_set_id, low, high, low, high, Video.Status.OK, Action.Status.ACTIVE],
            columns=4, dtype=np.float64,
        )
        ids = predictions[:, :3].astype(np.int64)
        # Questions asked without a label (image questions of the regions pipeline) count as asked too.
        unlabelled = fetch_array(
            f"""SELECT q.video_id, q.action_id FROM {table(Question)} q
                WHERE q.label_id IS NULL AND q.video_id >= %s AND q.video_id < %s""",
            [low, high], columns=2,
        )
        asked_model = np.union1d(asked, pair_keys(unlabelled[:, 0], unlabelled[:, 1], width=width))
        # What this run proposed to the chunk's videos in earlier rounds: its k per video in all.
        proposed = fetch_array(
            f"""SELECT mp.video_id, COUNT(*) FROM {table(ModelProposal)} mp
                WHERE mp.prediction_set_id = %s AND mp.video_id >= %s AND mp.video_id < %s
                GROUP BY mp.video_id ORDER BY mp.video_id""",
            [prediction_set_id, low, high], columns=2,
        )
        parts.append(best_prediction(
            ids[:, 0], ids[:, 1], ids[:, 2], predictions[:, 3], asked=asked_model, width=width,
            per_video=model_top_k, proposed_video=proposed[:, 0], proposed_count=proposed[:, 1],
        ))
    chosen = choose(Candidates.concat(parts), asked=asked, used_video=used_video, used_count=used_count, cap=cap,
                    width=width)
    return _write(dataset=dataset, round_number=round_number, chosen=chosen,
                  prediction_set_id=prediction_set_id if use_model else None)


def _write(*, dataset: Dataset, round_number: int, chosen: Candidates, prediction_set_id: int | None = None) -> int:
    """COPY the chosen rows into a temporary table, then one INSERT ... SELECT into the labels and,
    for the model's rows, one into ``ModelProposal`` (their rank and run)."""
    if not len(chosen):
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {quote(_CHOSEN)} (video_id bigint, action_id bigint, relation_id bigint, "
            f"source varchar(16), score double precision, {quote('rank')} integer)"
        )
    try:
        copy_into(table_name=_CHOSEN, columns=["video_id", "action_id", "relation_id", "source", "score", "rank"],
                  rows=chosen.rows())
        written = insert_select(
            model=Label,
            values={
                "dataset": str(int(dataset.id)),
                "video": "c.video_id",
                "action": "c.action_id",
                "asked_action": "c.action_id",
                "source": "c.source",
                "relation": "c.relation_id",
                "round": str(int(round_number)),
                "score": "c.score",
            },
            # The rows were copied in video order, the order the label indexes take them best.
            query=f"FROM {quote(_CHOSEN)} c WHERE c.video_id IS NOT NULL",
        )
        if prediction_set_id is not None and written:
            # The model's labels just written (the round's own: a pair someone else wrote in the
            # meantime was skipped above and is not the model's), found through the pair index.
            insert_select(
                model=ModelProposal,
                values={"label": "l.id", "prediction_set": str(int(prediction_set_id)), "video": "c.video_id",
                        "rank": f"c.{quote('rank')}"},
                query=f"""FROM {quote(_CHOSEN)} c JOIN {table(Label)} l
                              ON l.video_id = c.video_id AND l.action_id = c.action_id
                          WHERE c.source = %s AND l.source = %s AND l.round = %s""",
                params=[Source.MODEL, Source.MODEL, round_number],
            )
        return written
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {quote(_CHOSEN)}")


def label_id_high_water() -> int:
    """The largest label id now: labels inserted after this call have larger ones."""
    last = Label.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


def questions_for_round(*, dataset: Dataset, round_number: int, low: int, high: int, after_label_id: int = 0) -> int:
    """Queue a Yes/No question for each pending proposal of the round in [low, high).

    The same questions ``annotation.services.questions.questions_for_labels`` creates (the answers
    a new question asks for by split, ``Dataset.initial_answers``: the fixed redundancy, or fewer
    on an adaptive dataset, which asks more only where workers disagree), written by one
    INSERT ... SELECT because a round can queue millions.

    A label that has a question already is skipped by the unique constraint on
    ``Question.label`` (ON CONFLICT), not by a NOT EXISTS: planned on statistics that predate
    the round, PostgreSQL may answer NOT EXISTS with a sequential scan of the question table
    per label -- of the very table being filled, quadratic in the round's size.

    Args:
        after_label_id: only labels with a larger id (those just inserted), so the scan is
            the new labels, not the dataset's.
    """
    needed = {split: dataset.initial_answers(split) for split in Split.values}
    most = {split: max(dataset.max_answers, dataset.answers_needed(split)) for split in Split.values}

    def by_split(values: dict[str, int]) -> str:
        # Integers from the dataset's policy, inlined: the values list takes no parameters.
        cases = " ".join(f"WHEN '{split}' THEN {int(count)}" for split, count in values.items())
        return f"CASE v.split {cases} ELSE {int(max(values.values()))} END"

    return insert_select(
        model=Question,
        values={
            "dataset": "l.dataset_id", "action": "l.action_id", "video": "l.video_id", "label": "l.id",
            "split": "v.split", "needed": by_split(needed), "max_answers": by_split(most),
        },
        query=f"""
            FROM {table(Label)} l JOIN {table(Video)} v ON v.id = l.video_id
            WHERE l.id > %s AND l.dataset_id = %s AND l.round = %s AND l.state = %s
              AND l.source IN (%s, %s, %s) AND l.video_id >= %s AND l.video_id < %s
              AND v.id >= %s AND v.id < %s AND v.status = %s
        """,
        params=[after_label_id, dataset.id, round_number, Label.State.PENDING, *Source.values, low, high,
                low, high, Video.Status.OK],
    )
