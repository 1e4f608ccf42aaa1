"""Keyset pages (backend/common/pages.py): stable under inserts and deletes, both directions, with a
capped count -- the label browser and the video API."""
from __future__ import annotations

import re
from html import unescape

import pytest

from backend.common import pages
from backend.common.pages import keyset_page
from backend.labels.models import Label
from backend.videos.models import Video
from backend.vocabulary.models import Action

pytestmark = pytest.mark.django_db


def _labels(dataset, n: int, start: int = 0, state: str = "pending") -> list[int]:
    action = Action.objects.get(dataset=dataset, name="jumping")
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"keyset/{start + i}", name=f"k{start + i:04d}") for i in range(n)])
    return [label.pk for label in Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=action, asked_action=action, state=state) for v in videos])]


def test_pages_are_stable_under_inserts_and_deletes(dataset):
    ids = _labels(dataset, 23)
    qs = Label.objects.filter(dataset=dataset)
    first = keyset_page(qs, limit=10)
    assert [r.pk for r in first.rows] == ids[:10] and first.prev_before is None and first.total == 23
    second = keyset_page(qs, after=first.next_after, limit=10)
    # between two reads, rows come and go: the pages already read do not change, the walk goes on
    # from where it stopped, and nothing is skipped or shown twice
    Label.objects.filter(pk__in=[ids[0], ids[1]]).delete()
    added = _labels(dataset, 5, start=100)
    third = keyset_page(qs, after=second.next_after, limit=10)
    walked = [r.pk for p in (first, second, third) for r in p.rows]
    assert walked == ids + added and len(set(walked)) == len(walked)
    assert third.next_after is None and second.next_after is not None
    # backwards from the last page, to the first
    back = keyset_page(qs, before=third.rows[0].pk, limit=10)
    assert [r.pk for r in back.rows] == ids[10:20] and back.next_after == ids[19]
    start = keyset_page(qs, before=back.rows[0].pk, limit=10)
    assert [r.pk for r in start.rows] == ids[2:10] and start.prev_before is None


def test_the_count_is_capped(dataset, monkeypatch):
    monkeypatch.setattr(pages, "COUNT_CAP", 7)
    _labels(dataset, 12)
    page = keyset_page(Label.objects.filter(dataset=dataset), limit=5)
    assert (page.total, page.capped) == (7, True)
    page = keyset_page(Label.objects.filter(dataset=dataset, pk__lt=0), limit=5)
    assert (page.total, page.capped, page.rows) == (0, False, [])


def _next_link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="(\?[^"]*)">{rel}</a>', html)
    return unescape(found.group(1)) if found else None


def test_the_label_browser_walks_its_pages_with_filters(dataset, client, staff_user):
    client.force_login(staff_user)
    pending = _labels(dataset, 60)
    _labels(dataset, 30, start=500, state="positive")
    seen, url = [], "/dashboard/synthetic/labels/?state=pending"
    html = client.get(url).content.decode()
    assert "60 labels match" in html
    while True:
        seen += [int(v) for v in re.findall(r'/dashboard/synthetic/videos/(\d+)/', html)]
        link = _next_link(html, "Next")
        if link is None:
            break
        _labels(dataset, 1, start=900 + len(seen))  # a new pending label arrives while the curator reads
        html = client.get("/dashboard/synthetic/labels/" + link).content.decode()
    videos = dict(Label.objects.filter(pk__in=pending).order_by("pk").values_list("video_id", "pk"))
    assert seen[:60] == list(videos) and len(seen) == len(set(seen))
    previous = _next_link(html, "Previous")
    assert previous is not None and "state=pending" in previous
    assert client.get("/dashboard/synthetic/labels/?after=not-a-number").status_code == 200


def test_the_video_api_pages_by_cursor(dataset, staff_client):
    ids = [v.pk for v in Video.objects.bulk_create([
        Video(dataset=dataset, source=f"api/{i}", name=f"a{i:03d}", split="val" if i % 3 == 0 else "train")
        for i in range(25)])]
    body = staff_client.get("/api/datasets/synthetic/videos/?limit=10").json()
    assert body["count"] == 25 and body["count_capped"] is False and body["previous"] is None
    walked = [v["id"] for v in body["results"]]
    while body["next"]:
        Video.objects.create(dataset=dataset, source=f"api/late/{len(walked)}", name=f"late{len(walked)}")
        body = staff_client.get(body["next"]).json()
        walked += [v["id"] for v in body["results"]]
    assert walked[:25] == ids and len(walked) == len(set(walked)) == Video.objects.filter(dataset=dataset).count()
    val = staff_client.get("/api/datasets/synthetic/videos/?split=val").json()
    assert [v["id"] for v in val["results"]] == ids[::3] and val["count"] == 9
