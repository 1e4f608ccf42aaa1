"""HTML and script in every free text a curator or worker can enter is shown as text, never markup.

The texts: action names, display names and definitions; vocabulary event reasons; video names
(from imported file names); worker ids (in-house link names, MTurk worker ids); block and unblock
reasons; gold notes; job messages and errors; MTurk batch texts, requester feedback, bonus reasons
and notices to workers; messages echoing a curator's input; dataset descriptions. Dataset names
cannot hold markup at all: the API refuses them with a clear 400.

Server side, every dashboard page (enumerated from the URL configuration, so a new page is
covered), the annotator, region and MTurk pages and every admin changelist are rendered and
searched for the raw payload. In the browser (tests/browser/test_escaping_browser.py) the ES
modules that put API data into the page are checked.
"""
from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib import admin
from django.urls import URLPattern, reverse

from backend.videos.models import Dataset
from tests.security.hostile import ESCAPED, IMG, PAYLOAD, RAW, SCRIPT, build_hostile

pytestmark = pytest.mark.django_db


def assert_inert(content: bytes | str, where: str) -> None:
    text = content.decode() if isinstance(content, bytes) else content
    for raw in RAW:
        assert raw not in text, f"{where}: {raw!r} appears unescaped"


def assert_inert_response(response, where: str) -> None:
    """HTML must hold no raw markup; JSON may (it is data), if it is served as JSON, never sniffed."""
    if response["Content-Type"].startswith("application/json"):
        assert response.get("X-Content-Type-Options") == "nosniff", where
        return
    assert_inert(response.content, where)


@pytest.fixture
def hostile(dataset, clip_factory, tmp_path, staff_client):
    return build_hostile(dataset, clip_factory, tmp_path, staff_client)


@pytest.fixture
def curator(client, staff_user):
    client.force_login(staff_user)
    return client


def _dashboard_urls(h) -> list[str]:
    """Every GET page of the dashboard, with the hostile objects as arguments."""
    from backend.dashboard import urls
    from backend.regions.models import FrameAction, RegionFrame

    frame = RegionFrame.objects.create(dataset=h["dataset"], video=h["video"], image_key="regions/hostile.jpg",
                                       timestamp=1.0, width=64, height=48)
    target = FrameAction.objects.create(dataset=h["dataset"], frame=frame, action=h["action"])
    args = {"name": h["dataset"].name, "worker_id": h["annotator"].worker.pk, "video_id": h["video"].pk,
            "run_id": h["run"].pk, "version": h["run"].release.version, "link_id": h["link"].pk,
            "gold_id": h["gold"].pk, "label_id": h["label"].pk, "target_id": target.pk,
            "job_id": "00000000-0000-4000-8000-000000000000"}
    out = []
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name == "regions-export-download":  # a ZIP of an export folder, not a page
            continue
        names = list(pattern.pattern.regex.groupindex)
        out.append(reverse(f"dashboard:{pattern.name}", kwargs={k: args[k] for k in names}))
    turker = reverse("dashboard:worker", args=[h["dataset"].name, h["turker"].pk])
    action = quote(PAYLOAD)
    return out + [turker, f"{out[0]}?q={action}", f"/dashboard/{h['dataset'].name}/labels/?action={action}",
                  f"/dashboard/{h['dataset'].name}/labels/?action={action}&state={action}",
                  f"/dashboard/{h['dataset'].name}/workers/?offset={action}"]


def test_dataset_names_cannot_hold_markup(staff_client, curator):
    for name in (SCRIPT, IMG, PAYLOAD, "a<b", 'x"y'):
        r = staff_client.post("/api/datasets/", {"name": name}, format="json")
        assert r.status_code == 400, (name, r.content)
        assert "Letters, digits" in r.json()["detail"], r.json()
    # the admin's add form refuses it too, showing the value back as text
    r = curator.post(reverse("admin:videos_dataset_add"), {"name": PAYLOAD, "description": "", "train_answers": 3,
                                                            "eval_answers": 5, "set_size": 20, "gold_ratio": 0.1,
                                                            "max_attempts": 3, "set_timeout_minutes": 30,
                                                            "probation_sets": 3, "probation_gold_ratio": 0.3,
                                                            "aggregator": "majority", "max_answers": 9,
                                                            "budget": "0"})
    assert r.status_code == 200
    assert_inert(r.content, "admin add dataset")
    assert not Dataset.objects.filter(name__contains="<").exists()
    # a name in a URL is never echoed as markup either
    for url in (f"/dashboard/{quote(IMG)}/", f"/annotate/{quote(IMG)}/", f"/regions/{quote(IMG)}/",
                f"/api/datasets/{quote(IMG)}/"):
        r = curator.get(url)
        assert r.status_code == 404, url
        assert_inert_response(r, url)


def test_every_page_shows_free_text_as_text(hostile, curator, client):
    ds = hostile["dataset"].name
    seen_escaped = set()
    for url in _dashboard_urls(hostile):
        r = curator.get(url)
        if r.status_code == 405:  # a POST-only control
            continue
        assert r.status_code == 200, (url, r.status_code)
        if r.streaming:  # a download (CSV, ZIP): data, never served as a page
            assert r["Content-Type"].split(";")[0] in ("text/csv", "application/zip"), (url, r["Content-Type"])
            assert r.get("X-Content-Type-Options") == "nosniff" and "attachment" in r["Content-Disposition"], url
            b"".join(r.streaming_content)
            continue
        assert_inert(r.content, url)
        if ESCAPED in r.content.decode() or "\\u003Cscript\\u003Ealert(1)" in r.content.decode():
            seen_escaped.add(url.split("?")[0])
    # the payload was really on the pages that show these texts (as text), not filtered away
    for page in ("workers", "labels", f"workers/{hostile['annotator'].worker.pk}", f"videos/{hostile['video'].pk}",
                 "models", "mturk", "", "annotators", "gold"):
        assert f"/dashboard/{ds}/{page}/".replace("//", "/") in seen_escaped, (page, sorted(seen_escaped))

    # controls that echo what a curator typed into the page they redirect to
    worker = hostile["annotator"].worker
    for url, data in ((f"/dashboard/{ds}/workers/{worker.pk}/unblock/", {"reason": PAYLOAD}),
                      (f"/dashboard/{ds}/candidates/start/", {"sources": [PAYLOAD], "harvest_threshold": PAYLOAD}),
                      (f"/dashboard/{ds}/candidates/start/", {"sources": [PAYLOAD]}),
                      (f"/dashboard/{ds}/mturk/publish/", {"reward": PAYLOAD, "budget": PAYLOAD}),
                      (f"/dashboard/{ds}/models/retrain/", {"config": PAYLOAD}),
                      (f"/dashboard/{ds}/annotators/invite/", {"label": PAYLOAD, "days": "3"}),
                      (f"/dashboard/{ds}/annotators/invite/", {"label": "x", "days": PAYLOAD}),
                      (f"/dashboard/{ds}/campaign/save/", {"max_rounds": PAYLOAD, "train_config": PAYLOAD}),
                      (f"/dashboard/{ds}/campaign/save/", {"max_rounds": "2", "round_deadline_hours": "1",
                                                          "mturk_reward": "0.1", "mturk_assignments": "1",
                                                          "budget": "0", "train_processes": "1",
                                                          "train_config": "{}", "sources": [PAYLOAD]})):
        r = curator.post(url, data, follow=True)
        assert r.status_code in (200, 405), (url, r.status_code)
        assert_inert(r.content, f"POST {url}")
    worker.refresh_from_db()
    assert not worker.blocked and worker.events.filter(reason=PAYLOAD, kind="unblocked").exists()
    r = curator.get(f"/dashboard/{ds}/workers/{worker.pk}/")
    assert_inert(r.content, "worker history")
    assert r.content.decode().count(ESCAPED) >= 2  # the block and the unblock reasons

    # the pages annotators open (their data arrives as JSON and is inserted as text by the modules)
    token = hostile["annotator"].client._credentials["HTTP_X_WORKER_TOKEN"]
    for url in (f"/annotate/{ds}/?w={token}", f"/annotate/{ds}/?preview=1", f"/regions/{ds}/?w={token}",
                f"/mturk/annotate/{ds}/?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=HIT-ESCAPING"):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        if r.streaming:  # a download (CSV, ZIP): data, never served as a page
            assert r["Content-Type"].split(";")[0] in ("text/csv", "application/zip"), (url, r["Content-Type"])
            assert r.get("X-Content-Type-Options") == "nosniff" and "attachment" in r["Content-Disposition"], url
            b"".join(r.streaming_content)
            continue
        assert_inert(r.content, url)


def test_admin_shows_free_text_as_text(hostile, curator):
    ds = hostile["dataset"]
    found = 0
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        base = f"admin:{meta.app_label}_{meta.model_name}"
        for url in (reverse(f"{base}_changelist"), reverse(f"{base}_changelist") + f"?q={quote(PAYLOAD)}"):
            r = curator.get(url)
            assert r.status_code == 200, (url, r.status_code)
            assert_inert(r.content, url)
            found += ESCAPED in r.content.decode()
        # the change page of every object that holds the payload somewhere
        for obj in model._default_manager.all()[:200]:
            if PAYLOAD not in repr(_values(obj)) and SCRIPT not in repr(_values(obj)):
                continue
            url = reverse(f"{base}_change", args=[obj.pk])
            r = curator.get(url)
            assert r.status_code == 200, (url, r.status_code)
            assert_inert(r.content, url)
    assert found >= 5, found  # the payload was listed, as text, on several changelists
    assert ds.pk


def _values(obj) -> list:
    return [getattr(obj, f.attname, None) for f in obj._meta.concrete_fields]
