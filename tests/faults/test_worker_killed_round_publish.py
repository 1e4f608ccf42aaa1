"""A Celery worker killed with SIGKILL in the middle of a candidate round or an MTurk publish:
after a restart the redelivered task completes, with no duplicate proposal and no duplicate HIT."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Count, Sum

from backend.annotation.models import Question
from backend.candidates.models import (
    CandidateRound,
    Prediction,
    PredictionSet,
    RoundChunk,
)
from backend.candidates.policy import RoundPolicy
from backend.candidates.services import candidate_round_run
from backend.common.jobs import job_create
from backend.common.models import Job
from backend.labels.models import Label
from backend.mturk.models import Batch, Hit, HitType, QualificationType
from backend.mturk.services.publish import batch_create
from backend.videos.models import Dataset, Video
from backend.videos.services import dataset_create
from backend.vocabulary.models import Action
from backend.vocabulary.services import vocabulary_load
from tests.faults.celery_workers import (
    celery_worker_kill,
    celery_worker_log,
    celery_worker_start,
    job_finished,
    task_send,
)
from tests.faults.fake_requester import FakeRequester
from tests.helpers import stop, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# --- a candidate round -----------------------------------------------------------------------

# Word2Vec links running -> jumping and cooking -> frying (cosine 0.95), nothing else above 0.6.
VECTORS = {
    "running": [1.0, 0.0, 0.0, 0.0], "jumping": [0.9, 0.3, 0.0, 0.0], "cheering": [0.5, 0.8, 0.0, 0.0],
    "clapping": [0.3, 0.95, 0.0, 0.0], "cooking": [0.0, 0.0, 1.0, 0.0], "frying": [0.0, 0.0, 0.9, 0.3],
    "sprinting": [0.0, 0.0, 0.0, 1.0], "racing": [0.1, 0.0, 0.1, 0.9],
}
PREDICTED = ("clapping", "racing", "sprinting")  # never a relation's target: pilots and model never collide
VIDEOS = 1000
SOURCES = ["word2vec", "model"]
# Chunks of 10 videos: 100 roll-out transactions, so the kill lands between chunks done and not.
# A cap of 2 leaves room for a pilot and the model on one video, so the round's size is known:
# every video gets its model top-1, and each of the 2 pilot relations asks its 50 videos. The
# values are pinned here, so MMIT_CANDIDATE_* in the environment cannot change the count.
PILOT_SIZE = 50
POLICY = {"chunk_videos": 10, "per_video_cap": 2, "pilot_size": PILOT_SIZE, "word2vec_threshold": 0.6}
EXPECTED_PROPOSALS = VIDEOS + 2 * PILOT_SIZE


def _round_dataset(name: str) -> Dataset:
    """Videos verified running or cooking (alternately), each with a model's top-3 among PREDICTED."""
    dataset = dataset_create(name=name)
    vocabulary_load(dataset=dataset, names=list(VECTORS))
    actions = {a.name: a for a in Action.objects.filter(dataset=dataset)}
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/clips/{name}/{i}.mp4", name=f"{i}.mp4", storage_key=f"videos/{name}/{i}.mp4")
        for i in range(VIDEOS)], batch_size=5000)
    Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=actions[verified], asked_action=actions[verified],
              source=Label.Source.INITIAL, state=Label.State.POSITIVE)
        for i, v in enumerate(videos) for verified in ["running" if i % 2 else "cooking"]], batch_size=5000)
    predictions = PredictionSet.objects.create(dataset=dataset, path="predictions.csv", rows=3 * VIDEOS, videos=VIDEOS)
    Prediction.objects.bulk_create([
        Prediction(prediction_set=predictions, video=v, action=actions[PREDICTED[(i + rank) % 3]], rank=rank + 1,
                   score=0.9 - 0.2 * rank)
        for i, v in enumerate(videos) for rank in range(3)], batch_size=5000)
    return dataset


def _duplicate_pairs(dataset: Dataset) -> list[dict]:
    return list(Label.objects.filter(dataset=dataset).values("video_id", "action_id").annotate(n=Count("id"))
                .filter(n__gt=1))


def _proposals_by_source_and_target(dataset: Dataset) -> list[tuple]:
    rows = (Label.objects.filter(dataset=dataset, round=1).values_list("source", "relation__to_action__name")
            .annotate(n=Count("id")).order_by())
    return sorted(rows, key=str)


def test_round_killed_mid_way_finishes_once_without_duplicate_proposals(private_redis, tmp_path, settings):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text(f"{len(VECTORS)} 4\n" + "".join(
        f"{word} " + " ".join(map(str, vector)) + "\n" for word, vector in VECTORS.items()))
    settings.MMIT_VECTORS_PATH, settings.MMIT_CACHE_DIR = str(vectors), tmp_path / "cache"
    env = {"MMIT_VECTORS_PATH": str(vectors), "MMIT_CACHE_DIR": str(tmp_path / "cache")}
    killed, clean = _round_dataset("killed"), _round_dataset("clean")
    job = job_create(kind="candidate_round", params={"dataset": killed.name, "sources": SOURCES, "policy": POLICY})
    chunks = RoundChunk.objects.filter(candidate_round__dataset=killed)
    total = VIDEOS // POLICY["chunk_videos"]

    first = celery_worker_start(private_redis, tmp_path, "a", env)
    try:
        task_send(private_redis, "mmit.candidates.run_round", [str(job.id), killed.id, SOURCES, POLICY])
        wait_for(lambda: 10 <= chunks.filter(done=True).count() < total - 40, timeout=120, interval=0.02,
                 message="the round to be under way")
    finally:
        celery_worker_kill(first)
    candidate_round = CandidateRound.objects.get(dataset=killed)
    done_before = chunks.filter(done=True).count()
    assert candidate_round.status == CandidateRound.Status.PLANNED and chunks.count() == total
    assert done_before < total and Job.objects.get(pk=job.pk).status == Job.Status.RUNNING
    # Whole chunks or nothing: what was written is exactly what the chunks marked done proposed.
    written = Label.objects.filter(dataset=killed, round=1).count()
    assert 0 < written == chunks.filter(done=True).aggregate(n=Sum("proposed"))["n"]

    second = celery_worker_start(private_redis, tmp_path, "b", env)
    try:
        wait_for(lambda: job_finished(job), timeout=180, message="the redelivered round to finish")
    finally:
        stop(second)
    assert job.status == Job.Status.SUCCEEDED, job.error + celery_worker_log(tmp_path, "b")
    assert job.attempts == 2
    candidate_round = CandidateRound.objects.get(dataset=killed)  # the round was planned once
    assert (candidate_round.number, candidate_round.status) == (1, CandidateRound.Status.FINISHED)
    assert not chunks.filter(done=False).exists() and chunks.count() == total
    assert _duplicate_pairs(killed) == []
    proposals = Label.objects.filter(dataset=killed, round=1)
    assert proposals.count() == candidate_round.proposed == EXPECTED_PROPOSALS == job.result["proposed"]
    assert Question.objects.filter(dataset=killed).count() == EXPECTED_PROPOSALS  # one question per proposal

    # The same round on an identical dataset, never interrupted, proposes as much from each source.
    reference = candidate_round_run(dataset=clean, sources=SOURCES, policy=RoundPolicy.from_settings(**POLICY))
    assert reference.proposed == candidate_round.proposed
    assert reference.stats["sources"] == candidate_round.stats["sources"]
    assert Question.objects.filter(dataset=clean).count() == Question.objects.filter(dataset=killed).count()
    assert _proposals_by_source_and_target(clean) == _proposals_by_source_and_target(killed)


# --- an MTurk publish ------------------------------------------------------------------------

SITE = "https://mmit.example.org"  # MTurk only frames HTTPS pages; nothing is fetched from it
HITS = 40
HOLD_AT = 15  # the worker dies while the 15th CreateHIT is done on MTurk but its reply not received


def _requester_env(fake: FakeRequester, tmp_path) -> dict[str, str]:
    return {
        "MMIT_MTURK_ENDPOINT_URL": fake.url, "MMIT_SITE_URL": SITE,
        # boto3 signs every request: any credentials do, and no profile on this machine may interfere.
        "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE", "AWS_SECRET_ACCESS_KEY": "fake-secret",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }


def test_publish_killed_mid_way_creates_each_hit_once(dataset, private_redis, tmp_path, settings):
    settings.SITE_URL = SITE
    batch = batch_create(dataset=dataset, reward=Decimal("0.10"), budget=Decimal("100"), assignments_per_hit=3,
                         hits=HITS, sandbox=True)
    job = batch.job
    hits = Hit.objects.filter(batch=batch)
    with FakeRequester(delay=0.05, hold_at=HOLD_AT) as fake:
        first = celery_worker_start(private_redis, tmp_path, "a", _requester_env(fake, tmp_path))
        try:
            task_send(private_redis, "mmit.mturk.publish_batch", [str(job.id), batch.id])
            wait_for(fake.holding.is_set, timeout=120, interval=0.02, message="the publish to be under way")
        finally:
            celery_worker_kill(first)
        fake.release.set()
        assert len(fake.hits) == HOLD_AT
        assert hits.exclude(hit_id=None).count() == HOLD_AT - 1
        lost = hits.get(hit_id=None)  # reserved, created on MTurk, its id never heard of
        assert lost.index == HOLD_AT - 1 and lost.status == Hit.Status.PENDING
        assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING

        second = celery_worker_start(private_redis, tmp_path, "b", _requester_env(fake, tmp_path))
        try:
            wait_for(lambda: job_finished(job), timeout=180, message="the redelivered publish to finish")
        finally:
            stop(second)
        assert job.status == Job.Status.SUCCEEDED, job.error + celery_worker_log(tmp_path, "b")
        assert job.attempts == 2
        assert job.result["existing"] == HOLD_AT - 1 and job.result["created"] == HITS - HOLD_AT + 1
        # MTurk: one HIT per token, and the only repeated token is the lost one's, refused.
        assert len(fake.hits) == len(fake.tokens) == HITS
        assert fake.refused_tokens == [lost.token]
        assert len(fake.hit_types) == 1 and len(fake.qualification_types) == 1 and fake.unknown == []
        # The database: every HIT once, open, with the id MTurk gave to its token.
        assert hits.count() == HITS and set(hits.values_list("status", flat=True)) == {Hit.Status.OPEN}
        assert dict(hits.values_list("token", "hit_id")) == fake.tokens
        assert sorted(hits.values_list("index", flat=True)) == list(range(HITS))
        assert all(hit["RequesterAnnotation"].startswith(f"mmit {token} ")
                   for token, hit in ((t, fake.hits[h]) for t, h in fake.tokens.items()))
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.PUBLISHED
    assert HitType.objects.count() == 1 and QualificationType.objects.count() == 1
