"""The model source as in the paper (Section 3.1.1): the top-1 prediction not yet labelled or asked,
once per video per model run (or the dataset's k), each proposal recording its rank and run."""
from __future__ import annotations

import numpy as np
import pytest

from backend.annotation.models import Question
from backend.candidates.models import TOP_K_MODEL_ONLY, CandidateSource, ModelProposal
from backend.candidates.policy import RoundPolicy
from backend.candidates.selection import NO_RANK, best_prediction, pair_keys
from backend.candidates.services import candidate_round_run, predictions_ingest, source_settings_update
from backend.candidates.services.relations import TOP_K_OUT_OF_RANGE
from backend.common.errors import DomainError
from backend.labels.models import Label
from tests.candidates.conftest import action, make_videos, verify

MODEL = ["model"]
BASE = "/api/datasets/chain/candidates"
# Every video's ranked predictions: rank 1 running, 2 jumping, 3 cooking, 4 frying.
RANKED = [("running", 0.9), ("jumping", 0.6), ("cooking", 0.3), ("frying", 0.1)]


def write_predictions(path, videos, ranked=RANKED):
    lines = ["path,rank,action,score"] + [
        f"{video.storage_key},{rank},{name},{score}"
        for video in videos for rank, (name, score) in enumerate(ranked, start=1)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def model_labels(dataset, round_number: int) -> dict[str, set[str]]:
    """{video name: {action names}} the model proposed in the round."""
    found: dict[str, set[str]] = {}
    for video, name in Label.objects.filter(dataset=dataset, source="model", round=round_number).values_list(
            "video__name", "action__name"):
        found.setdefault(video, set()).add(name)
    return found


@pytest.fixture
def six(chain, tmp_path):
    """Six videos with the same ranked predictions ingested; nothing labelled yet."""
    videos = make_videos(chain, 6)
    run = predictions_ingest(dataset=chain, path=write_predictions(tmp_path / "run1.csv", videos))
    return {"dataset": chain, "videos": videos, "run": run}


def test_by_default_each_video_gets_its_rank_1_only(six):
    dataset, videos = six["dataset"], six["videos"]
    done = candidate_round_run(dataset=dataset, sources=MODEL, policy=RoundPolicy.from_settings(per_video_cap=5))
    # A per-video cap of 5 leaves room for more: the model still proposes one per video.
    assert model_labels(dataset, 1) == {v.name: {"running"} for v in videos}
    assert done.stats["model_top_k"] == 1 and done.stats["sources"]["model"]["proposed"] == 6


def test_rank_and_run_are_recorded_with_every_proposal(six, staff_client):
    dataset, run = six["dataset"], six["run"]
    verify(dataset, six["videos"][:2], "running")  # their top-1 is labelled: rank 2 instead
    candidate_round_run(dataset=dataset, sources=MODEL)
    rows = {(p.label.video.name, p.label.action.name, p.rank, p.prediction_set_id, p.video_id == p.label.video_id)
            for p in ModelProposal.objects.select_related("label__video", "label__action")}
    assert rows == {(v.name, "jumping", 2, run.id, True) for v in six["videos"][:2]} | {
        (v.name, "running", 1, run.id, True) for v in six["videos"][2:]}
    assert ModelProposal.objects.count() == Label.objects.filter(source="model").count() == 6
    # Visible in the API: every model proposal with its rank and run, filterable.
    listed = staff_client.get(f"{BASE}/proposals/").json()
    assert listed["count"] == 6
    first = listed["results"][0]
    assert set(first) == {"label", "video", "action", "round", "state", "score", "rank", "run", "model_run_id"}
    assert (first["round"], first["state"], first["run"], first["model_run_id"]) == (1, "pending", run.id, None)
    ranked2 = staff_client.get(f"{BASE}/proposals/", {"rank": 2, "run": run.id, "round": 1}).json()["results"]
    assert sorted((r["video"], r["action"], r["score"]) for r in ranked2) == [
        (v.name, "jumping", 0.6) for v in six["videos"][:2]]
    assert staff_client.get(f"{BASE}/proposals/", {"round": "two"}).status_code == 400
    assert staff_client.get(f"{BASE}/proposals/", {"run": run.id + 1}).json()["count"] == 0
    # The record goes with its label (and so with its video).
    six["videos"][0].delete()
    assert ModelProposal.objects.count() == 5


def test_a_second_round_with_the_same_run_proposes_nothing_more_for_those_videos(six, tmp_path):
    dataset, videos = six["dataset"], six["videos"]
    candidate_round_run(dataset=dataset, sources=MODEL)
    Label.objects.filter(round=1).update(state=Label.State.NEGATIVE)  # every top-1 answered No
    more = make_videos(dataset, 2, start=6)  # videos the run has not proposed to yet
    assert set(more).isdisjoint(videos)
    second = candidate_round_run(dataset=dataset, sources=MODEL)
    # Ranks do not walk down: no `jumping` for the six, however their `running` was answered.
    assert model_labels(dataset, 2) == {}
    assert second.proposed == 0
    third = candidate_round_run(dataset=dataset, sources=MODEL)
    assert third.proposed == 0 and ModelProposal.objects.filter(rank__gt=1).count() == 0


def test_a_video_the_cap_left_out_is_proposed_to_in_a_later_round(chain, tmp_path):
    """Once per run means once proposed: a video whose slot a pilot took still gets the model's top-1."""
    videos = make_videos(chain, 4)
    verify(chain, videos, "running")  # WordNet pilots running -> jogging, racing, sprinting on them
    predictions_ingest(dataset=chain, path=write_predictions(tmp_path / "p.csv", videos, RANKED[1:]))
    candidate_round_run(dataset=chain, sources=["wordnet", "model"])
    assert model_labels(chain, 1) == {}  # pilots come first under the per-video cap of 1
    candidate_round_run(dataset=chain, sources=MODEL)
    assert model_labels(chain, 2) == {v.name: {"jumping"} for v in videos}
    assert set(ModelProposal.objects.values_list("rank", flat=True)) == {1}


def test_k_2_widens_it_to_two_proposals_per_video_per_run(six, staff_client):
    dataset, videos = six["dataset"], six["videos"]
    response = staff_client.patch(f"{BASE}/sources/model/", {"top_k": 2}, format="json")
    assert response.status_code == 200 and response.json()["top_k"] == 2
    assert CandidateSource.objects.get(dataset=dataset, source="model").top_k == 2
    verify(dataset, videos[:1], "jumping")
    policy = RoundPolicy.from_settings(per_video_cap=5)
    done = candidate_round_run(dataset=dataset, sources=MODEL, policy=policy)
    assert done.stats["model_top_k"] == 2
    # The first video's rank 2 is labelled: its two best not labelled are ranks 1 and 3.
    assert model_labels(dataset, 1) == {videos[0].name: {"running", "cooking"}} | {
        v.name: {"running", "jumping"} for v in videos[1:]}
    assert sorted(ModelProposal.objects.filter(video=videos[0]).values_list("rank", flat=True)) == [1, 3]
    # Two per video per run in all: the next round with the same run adds nothing.
    assert candidate_round_run(dataset=dataset, sources=MODEL, policy=policy).proposed == 0


def test_k_counts_across_rounds_when_the_per_video_cap_is_smaller(six):
    dataset, videos = six["dataset"], six["videos"]
    source_settings_update(dataset=dataset, source="model", top_k=2)
    candidate_round_run(dataset=dataset, sources=MODEL)  # the cap of 1 lets one through per round
    candidate_round_run(dataset=dataset, sources=MODEL)
    third = candidate_round_run(dataset=dataset, sources=MODEL)
    assert model_labels(dataset, 1) == {v.name: {"running"} for v in videos}
    assert model_labels(dataset, 2) == {v.name: {"jumping"} for v in videos}
    assert third.proposed == 0


def test_actions_already_labelled_or_asked_are_skipped(six):
    dataset, videos = six["dataset"], six["videos"]
    running, jumping = action(dataset, "running"), action(dataset, "jumping")
    # Labels in any state count: a rejected one, a pending curator question, an ambiguous one.
    for video, state, source in ((videos[0], Label.State.NEGATIVE, "curator"),
                                 (videos[1], Label.State.PENDING, "curator"),
                                 (videos[2], Label.State.AMBIGUOUS, "wordnet")):
        Label.objects.create(dataset=dataset, video=video, action=running, asked_action=running, source=source,
                             state=state)
    # A question with no label (an image question of the regions pipeline) counts as asked.
    for name in ("running", "jumping"):
        Question.objects.create(dataset=dataset, action=action(dataset, name), video=videos[3], prompt="visible",
                                image_key="frames/x.jpg", needed=3, max_answers=3)
    Label.objects.create(dataset=dataset, video=videos[0], action=jumping, asked_action=jumping, source="initial",
                         state=Label.State.POSITIVE)
    candidate_round_run(dataset=dataset, sources=MODEL)
    assert model_labels(dataset, 1) == {
        videos[0].name: {"cooking"}, videos[1].name: {"jumping"}, videos[2].name: {"jumping"},
        videos[3].name: {"cooking"}, videos[4].name: {"running"}, videos[5].name: {"running"},
    }
    assert dict(ModelProposal.objects.values_list("video_id", "rank")) == {
        videos[0].id: 3, videos[1].id: 2, videos[2].id: 2, videos[3].id: 3, videos[4].id: 1, videos[5].id: 1}


def test_a_newer_run_replaces_the_older_one_and_proposes_again(six, tmp_path):
    dataset, videos, older = six["dataset"], six["videos"], six["run"]
    candidate_round_run(dataset=dataset, sources=MODEL)
    Label.objects.filter(round=1).update(state=Label.State.POSITIVE)
    # The newer run ranks differently and predicts only for four videos.
    newer = predictions_ingest(dataset=dataset, path=write_predictions(
        tmp_path / "run2.csv", videos[:4], [("running", 0.9), ("frying", 0.5), ("jumping", 0.4)]))
    second = candidate_round_run(dataset=dataset, sources=MODEL)
    assert second.stats["prediction_set"] == newer.id
    # Its own top-1 not yet labelled or asked (running is labelled now): frying, rank 2 of the newer run.
    assert model_labels(dataset, 2) == {v.name: {"frying"} for v in videos[:4]}
    assert set(ModelProposal.objects.filter(label__round=2).values_list("prediction_set_id", "rank")) == {
        (newer.id, 2)}
    # The older run's records stay; its predictions no longer propose (videos 5 and 6 get nothing).
    assert ModelProposal.objects.filter(prediction_set=older).count() == 6
    assert candidate_round_run(dataset=dataset, sources=MODEL).proposed == 0


def test_the_setting_is_checked_and_shown(chain, staff_client):
    shown = staff_client.get(f"{BASE}/sources/model/").json()
    assert shown["source"] == "model" and shown["top_k"] == 1  # before any round: the default
    assert staff_client.patch(f"{BASE}/sources/model/", {"top_k": 0}, format="json").status_code == 400
    assert staff_client.patch(f"{BASE}/sources/model/", {"top_k": 3}, format="json").json()["top_k"] == 3
    refused = staff_client.patch(f"{BASE}/sources/wordnet/", {"top_k": 2}, format="json")
    assert refused.status_code == 400 and refused.json()["detail"] == TOP_K_MODEL_ONLY
    assert staff_client.get(f"{BASE}/sources/elsewhere/").status_code == 404
    listed = {s["source"]: s["top_k"] for s in staff_client.get(f"{BASE}/sources/").json()}
    assert listed == {"model": 3, "wordnet": 1, "word2vec": 1}
    with pytest.raises(DomainError) as error:
        source_settings_update(dataset=chain, source="model", top_k=99)
    assert error.value.message == TOP_K_OUT_OF_RANGE.format(top=20, value=99)
    row = CandidateSource.objects.get(dataset=chain, source="wordnet")
    row.top_k = 2
    with pytest.raises(Exception, match="Only the model source"):
        row.full_clean()


def test_the_admin_and_the_dashboard_show_the_setting_and_the_proposals(six, client, staff_user):
    candidate_round_run(dataset=six["dataset"], sources=MODEL)
    client.force_login(staff_user)
    source = CandidateSource.objects.get(dataset=six["dataset"], source="model")
    page = client.get(f"/admin/candidates/candidatesource/{source.pk}/change/")
    assert page.status_code == 200 and 'name="top_k"' in page.content.decode()
    listing = client.get("/admin/candidates/modelproposal/")
    assert listing.status_code == 200 and "running" in listing.content.decode()
    dashboard = client.get("/dashboard/chain/candidates/").content.decode()
    assert "Model: per video per run" in dashboard


def test_the_choice_in_numpy():
    video, action_ = np.array([1, 1, 1, 2, 2, 3]), np.array([30, 31, 32, 30, 33, 34])
    rank, score = np.array([1, 2, 3, 2, 1, 1]), np.array([0.9, 0.6, 0.2, 0.5, 0.7, 0.8])
    asked = np.sort(pair_keys(np.array([1]), np.array([30]), width=100))
    two = best_prediction(video, action_, rank, score, asked=asked, width=100, per_video=2,
                          proposed_video=np.array([3]), proposed_count=np.array([1]))
    assert sorted(zip(two.video.tolist(), two.action.tolist(), two.rank.tolist())) == [
        (1, 31, 2), (1, 32, 3), (2, 30, 2), (2, 33, 1), (3, 34, 1)]
    spent = best_prediction(video, action_, rank, score, asked=asked, width=100, per_video=1,
                            proposed_video=np.array([2, 3]), proposed_count=np.array([1, 1]))
    assert list(zip(spent.video.tolist(), spent.rank.tolist())) == [(1, 2)]
    assert set(best_prediction(video[:0], action_[:0], rank[:0], score[:0], asked=asked, width=100).rank) == set()
    assert NO_RANK == 0
