"""The staff API of candidate generation: rounds (start -> 202 + job), relations, sources, predictions."""
from __future__ import annotations

from contextlib import contextmanager

import pytest

from backend.candidates.models import CandidateRound, PredictionSet, Relation
from backend.candidates.policy import HARVEST_THRESHOLD_OUT_OF_RANGE, SIMILARITY_THRESHOLD_OUT_OF_RANGE, RoundPolicy
from backend.candidates.services import candidate_round_run
from backend.candidates.services.predictions import PREDICTIONS_HEADER, PREDICTIONS_UNKNOWN_VIDEOS
from backend.candidates.services.rounds import UNKNOWN_SOURCE
from backend.common.models import Job
from backend.labels.models import Label
from tests.candidates.conftest import decide, make_videos, verify

BASE = "/api/datasets/chain/candidates"
URLS = [f"{BASE}/rounds/", f"{BASE}/rounds/1/", f"{BASE}/relations/", f"{BASE}/sources/", f"{BASE}/predictions/"]


@contextmanager
def eager_tasks(settings, capture):
    from workers.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    try:
        with capture(execute=True):
            yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture
def running30(chain):
    verify(chain, make_videos(chain, 30), "running")
    return chain


@pytest.mark.parametrize("url", URLS)
def test_staff_only(url, anon_client, chain, django_user_model):
    assert anon_client.get(url).status_code in (401, 403)
    assert anon_client.post(url, {}, format="json").status_code in (401, 403)
    anon_client.force_authenticate(django_user_model.objects.create_user(username="w", password="pw-12345-x"))
    assert anon_client.get(url).status_code == 403


def test_start_a_round_runs_it_as_a_job_and_lists_its_harvest(staff_client, running30, settings,
                                                              django_capture_on_commit_callbacks):
    with eager_tasks(settings, django_capture_on_commit_callbacks):
        response = staff_client.post(f"{BASE}/rounds/", {"sources": ["wordnet"], "per_video_cap": 3}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "candidate_round" and job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["round"] == 1 and job.result["proposed"] == 90
    assert job.done == job.total == 3  # planning, one chunk, finishing
    assert CandidateRound.objects.get(number=1).job_id == job.id

    decide(running30, lambda label: label.action.name == "sprinting")
    listed = staff_client.get(f"{BASE}/rounds/").json()
    assert listed["count"] == 1
    round_1 = listed["results"][0]
    assert round_1["number"] == 1 and round_1["status"] == "finished" and round_1["job"] == str(job.id)
    assert round_1["harvest"]["wordnet"] == {"asked": 90, "decided": 90, "yes": 30, "rate": 30 / 90}
    assert round_1["stats"]["sources"]["wordnet"]["pilot"] == 90

    detail = staff_client.get(f"{BASE}/rounds/1/").json()
    per_relation = {r["to_action"]: r["harvest"] for r in detail["relations"]}
    assert per_relation == {
        "sprinting": {"asked": 30, "decided": 30, "yes": 30, "rate": 1.0},
        "racing": {"asked": 30, "decided": 30, "yes": 0, "rate": 0.0},
        "jogging": {"asked": 30, "decided": 30, "yes": 0, "rate": 0.0},
    }

    candidate_round_run(dataset=running30, sources=["wordnet"])  # judges the pilots
    stopped = staff_client.get(f"{BASE}/relations/?state=stopped&source=wordnet").json()["results"]
    assert {(r["from_action"], r["to_action"]) for r in stopped} == {("running", "racing"), ("running", "jogging")}
    assert all(r["stop_reason"].startswith("Pilot harvest 0%") for r in stopped)
    sources = {s["source"]: s for s in staff_client.get(f"{BASE}/sources/").json()}
    assert sources["wordnet"]["status"] == "active" and sources["wordnet"]["distance"] == 2
    assert sources["wordnet"]["harvest"]["yes"] == 30 and sources["model"]["harvest"]["asked"] == 0


def test_replaying_a_finished_round_job_changes_nothing(running30, staff_user):
    from backend.common.jobs import job_create
    from workers.tasks.candidates import run_round

    job = job_create(kind="candidate_round", user=staff_user)
    run_round(str(job.id), running30.id, ["wordnet"])
    labels = Label.objects.count()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)  # as if the worker died before finishing
    run_round(str(job.id), running30.id, ["wordnet"])
    assert Label.objects.count() == labels and CandidateRound.objects.count() == 1
    assert Job.objects.get(pk=job.pk).result["round"] == 1


def test_a_scheduled_round_opens_its_own_job(running30):
    from workers.tasks.candidates import run_round

    run_round(None, running30.id, ["wordnet"])
    job = Job.objects.get(kind="candidate_round")
    assert job.status == Job.Status.SUCCEEDED and job.params["scheduled"] is True


@pytest.mark.parametrize(("payload", "message"), [
    ({"sources": ["wordnet", "ouija"]}, UNKNOWN_SOURCE.format(source="ouija")),
    ({"harvest_threshold": 1.5}, HARVEST_THRESHOLD_OUT_OF_RANGE.format(value=1.5)),
    ({"word2vec_threshold": 3}, SIMILARITY_THRESHOLD_OUT_OF_RANGE.format(value=3.0)),
    ({"pilot_size": 0}, "pilot_size must be 1 or more, got 0."),
    ({"sources": "wordnet"}, "Expected a list of items"),
])
def test_bad_round_requests_are_400_and_start_nothing(staff_client, running30, payload, message):
    response = staff_client.post(f"{BASE}/rounds/", payload, format="json")
    assert response.status_code == 400
    assert message in str(response.json())
    assert not Job.objects.exists() and not CandidateRound.objects.exists()


def test_unknown_dataset_round_and_filters(staff_client, chain):
    assert staff_client.get("/api/datasets/nope/candidates/rounds/").status_code == 404
    missing = staff_client.get(f"{BASE}/rounds/7/")
    assert missing.status_code == 404 and "has no candidate round 7" in missing.json()["detail"]
    assert staff_client.get(f"{BASE}/relations/?state=maybe").status_code == 400


def test_ingest_predictions_through_the_api(staff_client, running30, settings, tmp_path,
                                            django_capture_on_commit_callbacks):
    settings.MMIT_IMPORT_ROOTS = [tmp_path]
    videos = list(running30.videos.order_by("id"))
    good = tmp_path / "good.csv"
    good.write_text("path,rank,action,score\n" + "".join(f"{v.storage_key},1,jumping,0.8\n" for v in videos))
    with eager_tasks(settings, django_capture_on_commit_callbacks):
        response = staff_client.post(f"{BASE}/predictions/", {"path": str(good)}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED and job.result["videos"] == 30
    listed = staff_client.get(f"{BASE}/predictions/").json()["results"]
    assert [(p["path"], p["rows"]) for p in listed] == [(str(good), 30)]

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("path,rank,action,score\nvideos/else/1.mp4,1,jumping,0.5\n")
    with eager_tasks(settings, django_capture_on_commit_callbacks):
        response = staff_client.post(f"{BASE}/predictions/", {"path": str(unknown)}, format="json")
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED
    assert job.error == PREDICTIONS_UNKNOWN_VIDEOS.format(path=unknown, count=1, dataset="chain",
                                                          examples="'videos/else/1.mp4' (line 2)")
    assert PredictionSet.objects.count() == 1


@pytest.mark.parametrize("case", ["outside", "header", "missing"])
def test_bad_predictions_requests_are_400(staff_client, chain, settings, tmp_path, case):
    settings.MMIT_IMPORT_ROOTS = [tmp_path / "imports"]
    (tmp_path / "imports").mkdir()
    path = {"outside": tmp_path / "elsewhere.csv", "header": tmp_path / "imports" / "bad.csv",
            "missing": tmp_path / "imports" / "missing.csv"}[case]
    if case != "missing":
        path.write_text("video,score\nx,1\n")
    response = staff_client.post(f"{BASE}/predictions/", {"path": str(path)}, format="json")
    assert response.status_code == 400
    expected = {"outside": "outside the allowed import roots",
                "header": PREDICTIONS_HEADER.format(path=path, found="video,score"),
                "missing": "does not exist"}[case]
    assert expected in response.json()["detail"]
    assert not Job.objects.exists()


def test_relations_list_shows_scores_and_rounds(staff_client, running30):
    candidate_round_run(dataset=running30, sources=["wordnet"], policy=RoundPolicy.from_settings(per_video_cap=3))
    results = staff_client.get(f"{BASE}/relations/").json()["results"]
    assert {(r["source"], r["from_action"], r["to_action"], r["score"], r["state"], r["started_round"])
            for r in results} == {("wordnet", "running", b, 1.0, "pilot", 1)
                                  for b in ("jogging", "racing", "sprinting")}
    assert all(r["harvest"]["asked"] == 30 for r in results)
    assert Relation.objects.count() == 3


def test_the_endpoints_are_in_the_api_schema(staff_client):
    text = staff_client.get("/api/schema/").content.decode()
    for path in ("rounds/", "rounds/{number}/", "relations/", "sources/", "predictions/"):
        assert f"/api/datasets/{{name}}/candidates/{path}" in text


@pytest.fixture
def held_chunk(monkeypatch):
    """The round's first chunk is held by "another process" (skipped as a locked row would be)
    for the first ``held[0]`` attempts at it."""
    from backend.candidates.services import rounds
    import workers.tasks.candidates as task_module

    real = rounds._chunk_roll_out
    held, tries = [1], {}

    def roll_out(chunk_id):
        first = min(rounds.RoundChunk.objects.values_list("id", flat=True))
        if chunk_id == first:
            tries[chunk_id] = tries.get(chunk_id, 0) + 1
            if tries[chunk_id] <= held[0]:
                return 0
        return real(chunk_id)

    monkeypatch.setattr(rounds, "_chunk_roll_out", roll_out)
    monkeypatch.setattr(task_module, "HELD_CHUNKS_POLL", 0)
    return held


def test_a_round_with_chunks_held_elsewhere_waits_for_them(running30, staff_user, held_chunk):
    from backend.common.jobs import job_create
    from workers.tasks.candidates import run_round

    job = job_create(kind="candidate_round", user=staff_user)
    run_round(str(job.id), running30.id, ["wordnet"], {"chunk_videos": 10})
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.result["round"] == 1
    assert CandidateRound.objects.get().status == CandidateRound.Status.FINISHED


def test_chunks_held_too_long_fail_the_job_with_the_reason(running30, staff_user, held_chunk, monkeypatch):
    import workers.tasks.candidates as task_module
    from backend.common.jobs import job_create

    held_chunk[0] = 10**6
    monkeypatch.setattr(task_module, "HELD_CHUNKS_WAIT", 0)
    job = job_create(kind="candidate_round", user=staff_user)
    task_module.run_round(str(job.id), running30.id, ["wordnet"], {"chunk_videos": 10})
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "held by another process" in job.error
    assert CandidateRound.objects.get().status == CandidateRound.Status.PLANNED
    # once the holder lets go, the next run finishes the round rather than starting another
    held_chunk[0] = 0
    assert candidate_round_run(dataset=running30, sources=["wordnet"]).status == CandidateRound.Status.FINISHED
    assert CandidateRound.objects.count() == 1
