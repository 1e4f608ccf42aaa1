"""Candidate rounds (Section 3.1.1): judge, discover, pilot, roll out, record.

A round runs in three steps:

1. Plan (one transaction): judge relations and sources on the decided labels (pilots roll out
   or stop, weak relations and sources stop, WordNet's d grows), discover the relations of
   newly verified actions as pilots, draw the pilots' samples and list the round's chunks of
   video ids.
2. Propose (one transaction per chunk): pilots, rolled-out relations and the model's top
   prediction not yet labelled or asked (once per video per model run, or its ``top_k``),
   capped per video; queue the questions and mark the chunk done. Chunks touch
   disjoint videos, so on PostgreSQL several run at once on their own connections.
3. Finish (one transaction): record the figures and mark the round finished.

A crash in step 1 leaves nothing; a crash later leaves whole chunks, and the next run of the
dataset does the chunks not done. A finished round is never run again, and the task that
started it recognises it by its job, so a replayed task changes nothing.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from django.db import connection, connections, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from backend.candidates.models import CandidateRound, CandidateSource, PredictionSet, Relation, RoundChunk, Source
from backend.candidates.neighbours import word_vectors, wordnet_ready
from backend.candidates.policy import RoundPolicy
from backend.candidates.selectors import harvest_groups
from backend.candidates.services.proposals import (
    label_id_high_water,
    pilot_cutoffs_compute,
    proposals_chunk,
    questions_for_round,
)
from backend.candidates.services.relations import (
    RELATION_SOURCES,
    relations_discover,
    relations_judge,
    sources_ensure,
    sources_judge,
)
from backend.common.background import task_enqueue
from backend.common.errors import DomainError
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.common.summaries import summaries_refresh
from backend.labels.models import Label
from backend.videos.models import Dataset, Video

ProgressFn = Callable[[int, int], None]

UNKNOWN_SOURCE = "Unknown candidate source {source!r}: expected some of wordnet, word2vec, model."
NO_SOURCES = "A round needs at least one source: wordnet, word2vec or model."


def candidate_sources_validate(sources: Sequence[str] | None) -> list[str]:
    """The sources a round asked for, checked and in canonical order (None: all of them)."""
    if sources is None:
        return list(Source.values)
    if isinstance(sources, str):
        sources = [sources]
    for source in sources:
        if source not in Source.values:
            raise DomainError(UNKNOWN_SOURCE.format(source=source), field="sources")
    if not sources:
        raise DomainError(NO_SOURCES, field="sources")
    return [source for source in Source.values if source in sources]


def candidate_round_start(*, dataset: Dataset, sources: Sequence[str] | None, policy: dict, user=None) -> Job:
    """Check a curator's request for a round, open its job and run the round in a worker.

    Unknown sources and policy values out of range are refused here, before anything is
    queued, so the curator sees the error instead of a failed job.
    """
    sources = candidate_sources_validate(sources)
    RoundPolicy.from_settings(**policy)
    job = job_create(kind="candidate_round", user=user,
                     params={"dataset": dataset.name, "sources": sources, "policy": dict(policy)})
    task_enqueue("mmit.candidates.run_round", str(job.id), dataset.id, sources, dict(policy))
    return job


def candidate_round_run(
    *,
    dataset: Dataset,
    sources: list[str] | None = None,
    progress: ProgressFn | None = None,
    policy: RoundPolicy | None = None,
    job: Job | None = None,
) -> CandidateRound:
    """Run the dataset's next candidate round, or finish the one a crash left open.

    Args:
        dataset: where to propose.
        sources: ``wordnet``, ``word2vec``, ``model`` (default: all). Stopped sources are
            skipped; the model source needs ingested predictions.
        progress: called with ``(steps done, steps total)``.
        policy: thresholds, pilot size, cap ... (default: from settings).
        job: the job running the round; if it already finished a round, that round is
            returned untouched (a replayed task).

    Returns:
        The round, with its ``stats``; finished unless another process still holds some of
        its chunks (it then finishes the round). Its harvest comes from the selectors.

    Raises:
        DomainError: an unknown source, a policy value out of range, missing WordNet or an
            unreadable vectors file -- before anything is written.
    """
    policy = policy or RoundPolicy.from_settings()
    policy.validate()
    sources = candidate_sources_validate(sources)
    if job is not None:
        finished = CandidateRound.objects.filter(dataset=dataset, job=job, status=CandidateRound.Status.FINISHED)
        if finished.exists():
            return finished.get()
    # The lexical sources load (seconds) and fail (missing WordNet, bad vectors file) here,
    # outside the planning transaction that holds the dataset's source rows locked.
    if Source.WORDNET in sources:
        wordnet_ready()
    if Source.WORD2VEC in sources:
        word_vectors()
    planned = _round_plan(dataset=dataset, sources=sources, policy=policy, job=job)
    return candidate_round_resume(candidate_round=planned, progress=progress, job=job)


def _round_plan(*, dataset: Dataset, sources: list[str], policy: RoundPolicy, job: Job | None) -> CandidateRound:
    with transaction.atomic():
        sources_ensure(dataset=dataset)
        # Locking the source rows serialises the planning of rounds of one dataset.
        list(CandidateSource.objects.select_for_update().filter(dataset=dataset))
        open_round = CandidateRound.objects.filter(dataset=dataset, status=CandidateRound.Status.PLANNED).first()
        if open_round is not None:
            return open_round
        number = (CandidateRound.objects.filter(dataset=dataset).aggregate(n=Max("number"))["n"] or 0) + 1
        groups = harvest_groups(dataset=dataset, fresh=True)
        judged = relations_judge(dataset=dataset, round_number=number, policy=policy, groups=groups)
        states = sources_judge(dataset=dataset, round_number=number, policy=policy, groups=groups, requested=sources)
        active = [source for source in sources if states[source].status == CandidateSource.Status.ACTIVE]
        distance = states[Source.WORDNET].distance
        discovered = relations_discover(
            dataset=dataset, round_number=number, policy=policy, sources=active, wordnet_distance=distance
        )
        # The newest ingested run replaces the older ones as the model source's input.
        newest = PredictionSet.objects.filter(dataset=dataset).order_by("-created_at", "-id")
        prediction_set = newest.values_list("id", flat=True).first() if Source.MODEL in active else None
        cutoffs = pilot_cutoffs_compute(
            dataset=dataset, sources=[s for s in active if s in RELATION_SOURCES], pilot_size=policy.pilot_size
        )
        planned = CandidateRound.objects.create(
            dataset=dataset, number=number, sources=sources, policy=policy.as_dict(), job=job,
            stats={
                "active_sources": active,
                "prediction_set": prediction_set,
                # The dataset's k of the model source, fixed for the round's chunks.
                "model_top_k": states[Source.MODEL].top_k,
                "wordnet_distance": distance if Source.WORDNET in active else None,
                "judged": judged,
                "discovered": discovered,
                "pilots": len(cutoffs),
            },
            pilot_cutoffs={str(relation): list(cutoff) for relation, cutoff in cutoffs.items()},  # JSON keys: str
        )
        span = Video.objects.filter(dataset=dataset).aggregate(low=Min("id"), high=Max("id"))
        if span["low"] is not None:
            RoundChunk.objects.bulk_create([
                RoundChunk(candidate_round=planned, low=low, high=min(low + policy.chunk_videos, span["high"] + 1))
                for low in range(span["low"], span["high"] + 1, policy.chunk_videos)
            ])
        return planned


def candidate_round_resume(
    *, candidate_round: CandidateRound, progress: ProgressFn | None = None, job: Job | None = None
) -> CandidateRound:
    """Roll out the chunks of a planned round not done yet and finish it.

    A finished round is returned as is. Chunks another process holds are left to it (the
    round is then finished by whoever does the last chunk).
    """
    policy = RoundPolicy(**candidate_round.policy)
    chunks = list(candidate_round.chunks.order_by("low").values_list("id", "done"))
    pending = [chunk_id for chunk_id, done in chunks if not done]
    total = len(chunks) + 2  # planning, the chunks, finishing
    finished = len(chunks) - len(pending) + 1

    def report(done: int) -> None:
        if progress is not None:
            progress(done, total)

    report(finished)
    # Worker threads need connections of their own that see committed data: impossible inside
    # an outer transaction (a test, a caller's atomic block), pointless on SQLite.
    parallel = (
        policy.workers > 1 and len(pending) > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block
    )
    if parallel:
        with ThreadPoolExecutor(max_workers=policy.workers, thread_name_prefix="candidate-chunk") as pool:
            for future in as_completed([pool.submit(_chunk_in_thread, chunk_id) for chunk_id in pending]):
                future.result()
                finished += 1
                report(finished)
    else:
        for chunk_id in pending:
            _chunk_roll_out(chunk_id)
            finished += 1
            report(finished)
    with transaction.atomic():
        current = CandidateRound.objects.select_for_update().get(pk=candidate_round.pk)
        if current.status == CandidateRound.Status.PLANNED and not current.chunks.filter(done=False).exists():
            _round_finish(candidate_round=current, job=job)
    # a round adds labels and questions by the million: the stored summaries pages read are
    # recounted now rather than at the job's next pass (nothing is stored for a small dataset)
    summaries_refresh(dataset_id=candidate_round.dataset_id)
    report(total)
    return current


def _chunk_in_thread(chunk_id: int) -> int:
    try:
        return _chunk_roll_out(chunk_id)
    finally:
        connections.close_all()  # this thread's own connections


def _chunk_roll_out(chunk_id: int) -> int:
    """Propose for one chunk and mark it done, in one transaction; 0 if done or held elsewhere."""
    with transaction.atomic():
        chunk = (
            RoundChunk.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("candidate_round__dataset")
            .filter(pk=chunk_id, done=False)
            .first()
        )
        if chunk is None:
            return 0
        current = chunk.candidate_round
        policy = RoundPolicy(**current.policy)
        high_water = label_id_high_water()
        cutoffs = {int(relation): tuple(cutoff) for relation, cutoff in current.pilot_cutoffs.items()}
        added = proposals_chunk(
            dataset=current.dataset, round_number=current.number, sources=current.stats["active_sources"],
            pilot_cutoffs=cutoffs, prediction_set_id=current.stats.get("prediction_set"),
            cap=policy.per_video_cap, low=chunk.low, high=chunk.high,
            model_top_k=current.stats.get("model_top_k", 1),
        )
        questions_for_round(dataset=current.dataset, round_number=current.number, low=chunk.low, high=chunk.high,
                            after_label_id=high_water)
        chunk.done, chunk.proposed = True, added
        chunk.save(update_fields=["done", "proposed"])
        return added


def _round_finish(*, candidate_round: CandidateRound, job: Job | None) -> None:
    dataset, number = candidate_round.dataset, candidate_round.number
    proposed = _proposed_by_source(dataset=dataset, round_number=number)
    # Relations are judged at the start of the next round: those still piloting asked pilots.
    pilot = _proposed_by_source(dataset=dataset, round_number=number, relation__state=Relation.State.PILOT)
    candidate_round.stats["pilot"] = pilot
    states = {state.source: state for state in CandidateSource.objects.filter(dataset=dataset)}
    relation_states = Counter(
        (row["source"], row["state"])
        for row in Relation.objects.filter(dataset=dataset).values("source", "state")
    )
    active = candidate_round.stats.get("active_sources", [])
    candidate_round.stats["sources"] = {
        source: {
            "requested": source in candidate_round.sources,
            "ran": source in active,
            "status": states[source].status,
            "stop_reason": states[source].stop_reason,
            "distance": states[source].distance if source == Source.WORDNET else None,
            "pilot": pilot.get(source, 0),
            "rollout": proposed.get(source, 0) - pilot.get(source, 0),
            "proposed": proposed.get(source, 0),
        }
        for source in Source.values
    }
    candidate_round.stats["relations"] = {
        source: {state: relation_states[(source, state)] for state in Relation.State.values}
        for source in RELATION_SOURCES
    }
    candidate_round.status = CandidateRound.Status.FINISHED
    candidate_round.finished_at = timezone.now()
    candidate_round.proposed = sum(proposed.values())
    fields = ["stats", "status", "finished_at", "proposed"]
    if job is not None and candidate_round.job_id != job.pk:
        candidate_round.job = job  # the job that finished it is the one a replay will look for
        fields.append("job")
    candidate_round.save(update_fields=fields)


def _proposed_by_source(*, dataset: Dataset, round_number: int, **filters) -> dict[str, int]:
    rows = (
        Label.objects.filter(dataset=dataset, round=round_number, source__in=Source.values, **filters)
        .values("source").annotate(n=Count("id")).order_by()
    )
    return {row["source"]: row["n"] for row in rows}
