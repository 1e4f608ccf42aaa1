"""The dashboard's candidate rounds page: harvest charts, stopped relations and why, the start control."""
from __future__ import annotations

import json

import pytest

from backend.candidates.models import Relation
from backend.candidates.policy import RoundPolicy
from backend.candidates.selectors import harvest_series
from backend.candidates.services import candidate_round_run
from backend.common.models import Job
from tests.candidates.conftest import decide, make_videos, verify

WORDNET = ["wordnet"]


@pytest.fixture
def curator(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def two_rounds(chain):
    """Round 1 pilots running -> {jogging, racing, sprinting}; only sprinting is a Yes, so round 2
    rolls sprinting out and stops the other two."""
    verify(chain, make_videos(chain, 120), "running")
    policy = RoundPolicy.from_settings(per_video_cap=10)
    candidate_round_run(dataset=chain, sources=WORDNET, policy=policy)
    decide(chain, lambda label: label.action.name == "sprinting")
    candidate_round_run(dataset=chain, sources=WORDNET, policy=policy)
    return chain


def _chart(page: str, element_id: str) -> dict:
    start = page.index(f'id="{element_id}"')
    body = page[page.index(">", start) + 1: page.index("</script>", start)]
    return json.loads(body)


def test_harvest_series_per_source_and_relation(two_rounds):
    series = harvest_series(dataset=two_rounds)
    # round 1: 50 of 150 pilots were Yes; round 2 is not decided yet, so it has no point
    assert series["sources"] == {"wordnet": [{"x": 1, "y": round(50 / 150, 3)}]}
    assert series["relations"]["running -> sprinting (wordnet)"] == [{"x": 1, "y": 1.0}]
    assert series["relations"]["running -> jogging (wordnet)"] == [{"x": 1, "y": 0.0}]
    decide(two_rounds, lambda label: True, round_number=2)
    again = harvest_series(dataset=two_rounds)
    assert [p["x"] for p in again["sources"]["wordnet"]] == [1, 2] and again["sources"]["wordnet"][1]["y"] == 1.0


def test_the_page_shows_charts_stopped_relations_and_why(two_rounds, curator):
    response = curator.get("/dashboard/chain/candidates/")
    assert response.status_code == 200
    page = response.content.decode()
    by_source = _chart(page, "by-source")
    assert by_source["threshold"] == 0.2 and by_source["series"]["wordnet"][0]["y"] == round(50 / 150, 3)
    assert "running -> sprinting (wordnet)" in _chart(page, "by-relation")["series"]
    jogging = Relation.objects.get(dataset=two_rounds, from_action__name="running", to_action__name="jogging")
    assert jogging.state == Relation.State.STOPPED
    assert jogging.stop_reason in page  # why it stopped, as the judge wrote it
    assert "running → sprinting" in page and 'class="state-active"' in page
    # the filter keeps only stopped relations
    stopped = curator.get("/dashboard/chain/candidates/?state=stopped").content.decode()
    assert "running → jogging" in stopped and "running → sprinting" not in stopped
    # an unknown state is ignored rather than an error
    assert curator.get("/dashboard/chain/candidates/?state=<b>").status_code == 200


def test_start_a_round_from_the_dashboard(chain, curator, django_capture_on_commit_callbacks, sent_tasks):
    with django_capture_on_commit_callbacks(execute=True):
        response = curator.post("/dashboard/chain/candidates/start/",
                                {"sources": ["word2vec", "wordnet"], "harvest_threshold": "0.3"})
    assert response.status_code == 302
    job = Job.objects.get(kind="candidate_round")
    assert job.params == {"dataset": "chain", "sources": ["wordnet", "word2vec"], "policy": {"harvest_threshold": 0.3}}
    assert sent_tasks == [("mmit.candidates.run_round", (str(job.id), chain.id, ["wordnet", "word2vec"],
                                                         {"harvest_threshold": 0.3}), {})]
    page = curator.get("/dashboard/chain/candidates/").content.decode()
    assert "candidate_round" in page and "data-job" in page


@pytest.mark.parametrize(("form", "message"), [
    ({}, "at least one source"),
    ({"sources": ["tarot"]}, "Unknown candidate source"),
    ({"sources": ["wordnet"], "harvest_threshold": "1.5"}, "threshold"),
    ({"sources": ["wordnet"], "harvest_threshold": "lots"}, "must be a number"),
])
def test_bad_start_requests_say_why_and_queue_nothing(chain, curator, form, message, sent_tasks,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = curator.post("/dashboard/chain/candidates/start/", form, follow=True)
    assert response.status_code == 200 and message in response.content.decode()
    assert not Job.objects.exists() and sent_tasks == []


def test_the_page_needs_staff(chain, client):
    assert client.get("/dashboard/chain/candidates/").status_code == 302
    assert client.post("/dashboard/chain/candidates/start/", {"sources": ["wordnet"]}).status_code == 302
    assert not Job.objects.exists()
