"""The label browser's selection (issue 18, item 6): filters by confidence range, vote split and
worker, the sort orders as keyset pages, and the CSV of any filtered list (dashboard and API)."""
from __future__ import annotations

import csv
import io

import pytest
from django.contrib.messages import get_messages

from backend.annotation.label_browser import (
    BAD_CONFIDENCE,
    BAD_RANGE,
    BAD_SORT,
    BAD_WORKER,
    CSV_HEADER,
    LabelBrowse,
    label_browse,
    label_browse_page,
    label_browse_parse,
    label_browse_rows,
)
from backend.annotation.models import Answer
from backend.common.errors import DomainError
from backend.labels.models import Label, LabelCorrection
from backend.labels.selectors import BAD_VOTES
from backend.videos.models import Video

pytestmark = pytest.mark.django_db

PAGE = "/dashboard/synthetic/labels/"
# (confidence, yes, no) of the labels, in the order they are added
ROWS = [(0.9, 3, 0), (0.5, 1, 1), (None, 0, 0), (0.75, 3, 1), (0.5, 2, 2), (0.6, 0, 2), (1.0, 4, 0), (None, 0, 0),
        (0.55, 2, 1), (0.8, 0, 3)]


@pytest.fixture
def labels(dataset):
    jumping, falling = dataset.actions.get(name="jumping"), dataset.actions.get(name="falling")
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/x/v{i}.mp4", name=f"v{i}.mp4", storage_key=f"videos/v{i}.mp4",
              checksum=f"c{i}") for i in range(len(ROWS))])
    Label.objects.bulk_create([
        Label(dataset=dataset, video=videos[-1 - i], action=falling if i % 3 == 0 else jumping,
              asked_action=jumping, source="initial", confidence=c, yes_count=y, no_count=n,
              state="pending" if c is None else ("positive" if y > n else "negative"))
        for i, (c, y, n) in enumerate(ROWS)])
    return list(Label.objects.filter(dataset=dataset).order_by("id"))


def _ids(qs) -> set[int]:
    return set(qs.values_list("id", flat=True))


def _where(labels, keep) -> set[int]:
    return {label.pk for label, row in zip(labels, ROWS) if keep(*row)}


def test_confidence_range_and_vote_filters(dataset, labels):
    def select(**kw):
        return _ids(label_browse(dataset=dataset, browse=label_browse_parse(kw)))

    assert select(confidence_min="0.5", confidence_max="0.6") == _where(
        labels, lambda c, y, n: c is not None and 0.5 <= c <= 0.6)
    assert select(confidence_min="0.8") == _where(labels, lambda c, y, n: c is not None and c >= 0.8)
    assert select(votes="split") == _where(labels, lambda c, y, n: y and n)
    assert select(votes="unanimous") == _where(labels, lambda c, y, n: bool(y) != bool(n))
    assert select(votes="unanswered") == _where(labels, lambda c, y, n: not y and not n)
    assert select(votes="2-2") == _where(labels, lambda c, y, n: (y, n) == (2, 2))
    assert select(votes="split", confidence_max="0.5") == _where(
        labels, lambda c, y, n: y and n and c is not None and c <= 0.5)
    assert select(action="falling", votes="unanimous") == {
        label.pk for label in labels
        if label.action.name == "falling" and bool(label.yes_count) != bool(label.no_count)}


@pytest.mark.parametrize("params, message", [
    ({"confidence_min": "high"}, BAD_CONFIDENCE.format(field="confidence_min", value="high")),
    ({"confidence_max": "1.5"}, BAD_CONFIDENCE.format(field="confidence_max", value="1.5")),
    ({"confidence_min": "nan"}, BAD_CONFIDENCE.format(field="confidence_min", value="nan")),
    ({"confidence_min": "0.8", "confidence_max": "0.2"}, BAD_RANGE.format(low=0.8, high=0.2)),
    ({"worker": "alice"}, BAD_WORKER.format(value="alice")),
    ({"sort": "random"}, BAD_SORT.format(choices="added, newest, confidence, -confidence, video", value="random")),
])
def test_bad_parameters_are_named(params, message):
    with pytest.raises(DomainError) as caught:
        label_browse_parse(params)
    assert caught.value.message == message


def test_bad_votes_are_named(dataset):
    with pytest.raises(DomainError) as caught:
        label_browse(dataset=dataset, browse=LabelBrowse(votes="most"))
    assert caught.value.message == BAD_VOTES.format(value="most")


def _walk(dataset, browse, limit=3):
    """Every page forwards, then backwards from the last, as the pager's links go."""
    pages, after = [], None
    while True:
        page = label_browse_page(dataset=dataset, browse=browse, after=after, limit=limit)
        pages.append([label.pk for label in page.rows])
        if page.next_after is None:
            break
        after = page.next_after
    back, before = [], page.prev_before
    while before is not None:
        page = label_browse_page(dataset=dataset, browse=browse, before=before, limit=limit)
        back.append([label.pk for label in page.rows])
        before = page.prev_before
    return pages, back


@pytest.mark.parametrize("sort, expected", [
    ("added", lambda ls: sorted(ls, key=lambda label: label.pk)),
    ("newest", lambda ls: sorted(ls, key=lambda label: -label.pk)),
    ("confidence", lambda ls: sorted((label for label in ls if label.confidence is not None),
                                     key=lambda label: (label.confidence, label.pk))),
    ("-confidence", lambda ls: sorted((label for label in ls if label.confidence is not None),
                                      key=lambda label: (-label.confidence, -label.pk))),
    ("video", lambda ls: sorted(ls, key=lambda label: (label.video_id, label.pk))),
])
def test_every_sort_pages_through_every_label_once_both_ways(dataset, labels, sort, expected):
    pages, back = _walk(dataset, LabelBrowse(sort=sort))
    order = [label.pk for label in expected(labels)]
    assert [pk for page in pages for pk in page] == order
    assert [pk for page in reversed(back) for pk in page] + pages[-1] == order
    assert all(len(page) == 3 for page in pages[:-1])


def test_the_csv_rows_follow_the_selection_and_its_order(dataset, labels):
    browse = LabelBrowse(votes="split", sort="-confidence")
    rows = list(label_browse_rows(dataset=dataset, browse=browse))
    expected = sorted((label for label, (c, y, n) in zip(labels, ROWS) if y and n),
                      key=lambda label: (-label.confidence, -label.pk))
    assert [r[0] for r in rows] == [label.pk for label in expected]
    assert len(rows[0]) == len(CSV_HEADER) and rows[0][2] == expected[0].video.name


def test_worker_filter_selects_the_labels_the_worker_answered(engine, make_worker):
    from tests.annotation.bench import truth_of

    worker = make_worker("solo")
    payload = worker.assign().json()["set"]
    worker.submit(payload["id"], {item["id"]: truth_of(item["id"], engine) for item in payload["items"]})
    answered = set(Answer.objects.filter(worker=worker.worker, question__label__isnull=False)
                   .values_list("question__label_id", flat=True))
    assert answered
    selected = label_browse(dataset=engine["dataset"], browse=label_browse_parse({"worker": str(worker.worker.pk)}))
    assert _ids(selected) == answered
    assert not _ids(label_browse(dataset=engine["dataset"], browse=LabelBrowse(worker=worker.worker.pk + 1000)))


# --- the dashboard page and its CSV --------------------------------------------------------------


@pytest.fixture
def curator(client, staff_user):
    client.force_login(staff_user)
    return client


def _csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_page_filters_sorts_and_links_its_csv(curator, labels):
    response = curator.get(PAGE, {"confidence_min": "0.5", "confidence_max": "0.6", "sort": "confidence"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "4 labels match, least confident first (labels without a confidence yet are left out)." in page
    assert ('href="/dashboard/synthetic/labels/export.csv?confidence_min=0.5&amp;confidence_max=0.6'
            '&amp;sort=confidence"') in page
    assert page.count('<tr data-label="') == 4
    # the bulk form carries the same selection (not the sort), so "correct all" corrects what is shown
    assert '<input type="hidden" name="confidence_min" value="0.5">' in page
    assert 'name="sort"' not in page.split('class="review bulk"')[1].split("</form>")[0]


def test_the_csv_download_is_the_filtered_list(curator, labels):
    response = curator.get(f"{PAGE}export.csv", {"votes": "split", "sort": "confidence"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="synthetic-labels.csv"'
    rows = _csv(response)
    expected = sorted((label for label, (c, y, n) in zip(labels, ROWS) if y and n),
                      key=lambda label: (label.confidence, label.pk))
    assert [int(r["label_id"]) for r in rows] == [label.pk for label in expected]
    assert list(rows[0]) == list(CSV_HEADER)
    assert rows[0]["confidence"] == "0.5" and rows[0]["video"] == expected[0].video.name


def test_a_formula_in_a_video_name_stays_text_in_the_csv(curator, labels):
    Video.objects.filter(pk=labels[0].video_id).update(name="=HYPERLINK(\"http://x\")")
    rows = _csv(curator.get(f"{PAGE}export.csv"))
    assert rows[0]["video"] == "'=HYPERLINK(\"http://x\")"


def test_bad_filters_are_a_message_and_no_rows(curator, labels):
    response = curator.get(PAGE, {"confidence_min": "lots"})
    assert response.status_code == 200
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        BAD_CONFIDENCE.format(field="confidence_min", value="lots")]
    assert '<tr data-label="' not in response.content.decode()
    download = curator.get(f"{PAGE}export.csv", {"votes": "most"})
    assert download.status_code == 302 and download["Location"] == PAGE


def test_bulk_correction_acts_on_the_filtered_selection_only(curator, labels):
    response = curator.post(f"{PAGE}correct/", {"do": "negative", "reason": "checked by hand", "votes": "split",
                                                "confidence_max": "0.5", "query": "votes=split&confidence_max=0.5"})
    assert response.status_code == 302 and response["Location"] == f"{PAGE}?confidence_max=0.5&votes=split"
    expected = _where(labels, lambda c, y, n: y and n and c is not None and c <= 0.5)
    assert set(LabelCorrection.objects.values_list("label_id", flat=True)) == expected and len(expected) == 2


# --- the API list ------------------------------------------------------------------------------


def test_the_api_lists_pages_of_the_selection(staff_client, labels):
    first = staff_client.get("/api/datasets/synthetic/labels/", {"sort": "-confidence", "limit": 3}).json()
    order = [label.pk for label in sorted((label for label in labels if label.confidence is not None),
                                          key=lambda label: (-label.confidence, -label.pk))]
    assert (first["count"], first["count_capped"], first["previous"]) == (len(order), False, None)
    assert [r["id"] for r in first["results"]] == order[:3]
    assert set(first["results"][0]) >= {"id", "video", "action", "confidence", "yes", "no", "corrections"}
    second = staff_client.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == order[3:6]
    assert [r["id"] for r in staff_client.get(second["previous"]).json()["results"]] == order[:3]


def test_the_api_answers_csv(staff_client, labels):
    response = staff_client.get("/api/datasets/synthetic/labels/", {"format": "csv", "votes": "unanswered"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert [int(r["label_id"]) for r in rows] == sorted(_where(labels, lambda c, y, n: not y and not n))
    assert rows[0]["confidence"] == "" and rows[0]["state"] == "pending"


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_the_api_names_bad_filters_in_json(staff_client, labels, fmt):
    response = staff_client.get("/api/datasets/synthetic/labels/", {"format": fmt, "votes": "most"})
    assert response.status_code == 400
    assert response.json() == {"detail": BAD_VOTES.format(value="most"), "field": "votes"}


def test_the_api_bulk_correction_takes_the_new_filters(staff_client, labels):
    response = staff_client.post("/api/datasets/synthetic/labels/correct/", {
        "state": "positive", "reason": "settled", "filters": {"confidence_min": 0.9, "votes": "unanimous"}},
        format="json")
    assert response.status_code == 200, response.content
    expected = _where(labels, lambda c, y, n: c is not None and c >= 0.9 and bool(y) != bool(n))
    assert response.json()["corrected"] == len(expected) == 2
    assert set(LabelCorrection.objects.values_list("label_id", flat=True)) == expected
