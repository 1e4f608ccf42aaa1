"""The model top-1 source: ingesting the ml package's predictions, proposing, stopping; bad files."""
from __future__ import annotations

import pytest

from backend.candidates.models import CandidateSource, Prediction, PredictionSet
from backend.candidates.services import candidate_round_run, predictions_ingest
from backend.candidates.services.predictions import (
    PREDICTIONS_BAD_ROW,
    PREDICTIONS_DUPLICATE_RANK,
    PREDICTIONS_EMPTY,
    PREDICTIONS_HEADER,
    PREDICTIONS_MISSING,
    PREDICTIONS_UNKNOWN_ACTIONS,
    PREDICTIONS_UNKNOWN_VIDEOS,
)
from backend.candidates.services.relations import SOURCE_HARVEST_LOW
from backend.common.errors import DomainError
from backend.labels.models import Label
from backend.videos.models import Video
from tests.candidates.conftest import decide, make_videos, verify

MODEL = ["model"]


def write_predictions(path, rows, header="path,rank,action,score"):
    path.write_text(header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


@pytest.fixture
def predicted(chain, tmp_path):
    """Four videos (running verified on the first), each with a ranked top-3 from a model."""
    videos = make_videos(chain, 4)
    verify(chain, videos[:1], "running")
    rows = []
    for video in videos:
        for rank, (name, score) in enumerate([("running", 0.9), ("jumping", 0.6), ("cooking", 0.2)], start=1):
            rows.append((video.storage_key, rank, name, score))
    path = write_predictions(tmp_path / "predictions.csv", rows)
    return {"dataset": chain, "videos": videos, "path": path}


def test_ingest_then_propose_the_top_prediction_not_yet_asked(predicted, tmp_path):
    dataset, videos = predicted["dataset"], predicted["videos"]
    prediction_set = predictions_ingest(dataset=dataset, path=predicted["path"])
    assert (prediction_set.rows, prediction_set.videos) == (12, 4)
    first = candidate_round_run(dataset=dataset, sources=MODEL)
    proposed = {(lb.video.name, lb.action.name, lb.source, lb.relation_id, lb.score)
                for lb in Label.objects.filter(round=1).select_related("video", "action")}
    # The first video already has `running`: its top prediction not asked is rank 2.
    assert proposed == {(videos[0].name, "jumping", "model", None, 0.6)} | {
        (v.name, "running", "model", None, 0.9) for v in videos[1:]
    }
    assert first.stats["sources"]["model"]["rollout"] == 4 and first.stats["prediction_set"] == prediction_set.id
    decide(dataset, lambda label: label.action.name == "running")
    # Section 3.1.1: the top-1 once per model run. The same predictions propose nothing more (the
    # walk down to ranks 2, 3 ... round after round that this test used to expect is gone).
    second = candidate_round_run(dataset=dataset, sources=MODEL)
    assert not Label.objects.filter(round=2).exists() and second.stats["sources"]["model"]["proposed"] == 0
    # A newer run proposes again; all its proposals answered No stop the source.
    newer = write_predictions(tmp_path / "newer.csv", [(v.storage_key, 1, "cooking", 0.4) for v in videos])
    predictions_ingest(dataset=dataset, path=newer)
    candidate_round_run(dataset=dataset, sources=MODEL)
    third = {(lb.video.name, lb.action.name) for lb in Label.objects.filter(round=3).select_related("video",
                                                                                                   "action")}
    assert third == {(v.name, "cooking") for v in videos}
    decide(dataset, lambda label: False)
    candidate_round_run(dataset=dataset, sources=MODEL)
    source = CandidateSource.objects.get(dataset=dataset, source="model")
    assert source.status == CandidateSource.Status.STOPPED
    assert source.stop_reason == SOURCE_HARVEST_LOW.format(round=3, rate=0.0, yes=0, decided=4, threshold=0.2)


def test_a_new_file_replaces_the_previous_predictions(predicted, tmp_path):
    dataset, videos = predicted["dataset"], predicted["videos"]
    predictions_ingest(dataset=dataset, path=predicted["path"])
    newer = write_predictions(tmp_path / "newer.csv", [(videos[1].storage_key, 1, "frying", 0.7)])
    latest = predictions_ingest(dataset=dataset, path=newer)
    assert set(Prediction.objects.values_list("prediction_set_id", flat=True)) == {latest.id}
    assert PredictionSet.objects.filter(dataset=dataset).count() == 2  # the record of the older file stays
    candidate_round_run(dataset=dataset, sources=MODEL)
    assert list(Label.objects.filter(round=1).values_list("video_id", "action__name")) == [(videos[1].id, "frying")]


def test_a_round_without_predictions_proposes_nothing_from_the_model(chain):
    verify(chain, make_videos(chain, 3), "running")
    done = candidate_round_run(dataset=chain, sources=MODEL)
    assert done.proposed == 0 and done.stats["prediction_set"] is None


def test_a_quarantined_video_gets_no_model_candidate(predicted):
    dataset, videos = predicted["dataset"], predicted["videos"]
    Video.objects.filter(pk=videos[3].pk).update(status=Video.Status.QUARANTINED)
    predictions_ingest(dataset=dataset, path=predicted["path"])
    candidate_round_run(dataset=dataset, sources=MODEL)
    assert not Label.objects.filter(video=videos[3], round=1).exists()
    assert Label.objects.filter(round=1).count() == 3


def bad_file_cases(videos):
    key = videos[0].storage_key
    return [
        ("header", [(key, 1, "running", 0.5)], "video,rank,action,score",
         PREDICTIONS_HEADER.format(path="{path}", found="video,rank,action,score")),
        ("unknown video", [(key, 1, "running", 0.5), ("videos/elsewhere/x.mp4", 1, "running", 0.5),
                           ("videos/elsewhere/x.mp4", 2, "jumping", 0.4)], None,
         PREDICTIONS_UNKNOWN_VIDEOS.format(path="{path}", count=1, dataset="chain",
                                           examples="'videos/elsewhere/x.mp4' (line 3)")),
        ("unknown action", [(key, 1, "moonwalking", 0.5), (key, 2, "running", 0.5)], None,
         PREDICTIONS_UNKNOWN_ACTIONS.format(path="{path}", count=1, dataset="chain",
                                            examples="'moonwalking' (line 2)")),
        ("bad rank", [(key, 0, "running", 0.5)], None,
         PREDICTIONS_BAD_ROW.format(path="{path}", line=2, problem="rank must be 1 or more, got 0")),
        ("bad score", [(key, 1, "running", "high")], None,
         PREDICTIONS_BAD_ROW.format(path="{path}", line=2, problem=(
             "rank must be an integer and score a number, got '1' and 'high'"))),
        ("duplicate rank", [(key, 1, "running", 0.5), (key, 1, "jumping", 0.4)], None,
         PREDICTIONS_DUPLICATE_RANK.format(path="{path}")),
        ("empty", [], None, PREDICTIONS_EMPTY.format(path="{path}")),
    ]


@pytest.mark.parametrize("case", range(7))
def test_bad_predictions_files_are_clear_errors_and_write_nothing(chain, tmp_path, case):
    videos = make_videos(chain, 2)
    name, rows, header, message = bad_file_cases(videos)[case]
    path = write_predictions(tmp_path / f"{name.replace(' ', '_')}.csv", rows,
                             header=header or "path,rank,action,score")
    with pytest.raises(DomainError) as error:
        predictions_ingest(dataset=chain, path=path)
    assert error.value.message == message.replace("{path}", str(path))
    assert not PredictionSet.objects.exists() and not Prediction.objects.exists()


def test_a_missing_predictions_file_is_a_clear_error(chain, tmp_path):
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(DomainError) as error:
        predictions_ingest(dataset=chain, path=missing)
    assert error.value.message == PREDICTIONS_MISSING.format(path=missing)


def test_unknown_videos_are_counted_and_listed_with_their_lines(chain, tmp_path):
    videos = make_videos(chain, 1)
    rows = [(f"videos/other/{i}.mp4", 1, "running", 0.5) for i in range(7)] + [(videos[0].storage_key, 1, "x", 1)]
    path = write_predictions(tmp_path / "many.csv", rows)
    with pytest.raises(DomainError) as error:
        predictions_ingest(dataset=chain, path=path)
    assert "names 7 video(s)" in error.value.message and "and 2 more" in error.value.message
    assert "'videos/other/0.mp4' (line 2)" in error.value.message
