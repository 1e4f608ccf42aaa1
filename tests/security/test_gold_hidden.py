"""Nothing a worker can reach tells a gold question from any other."""
from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backend.annotation.models import GoldQuestion, SetItem
from tests.annotation.bench import is_gold, truth_of

pytestmark = pytest.mark.django_db

GOLD_WORDS = re.compile(r"gold|truth|is_gold|known|verified|control|check", re.I)


def _scan(obj, path="$"):
    """Every key and string value of a JSON payload, with its path."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield f"{path}.{k}", k
            yield from _scan(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _scan(v, f"{path}[{i}]")
    elif isinstance(obj, str):
        yield path, obj


def test_set_payload_page_and_media_do_not_reveal_gold(engine, make_worker):
    w = make_worker("alice")
    response = w.assign()
    payload = response.json()["set"]
    gold = [i for i in payload["items"] if is_gold(i["id"])]
    real = [i for i in payload["items"] if not is_gold(i["id"])]
    assert gold and real
    # JSON: same keys for every item, no word that hints at gold anywhere, no database ids
    assert {tuple(sorted(i)) for i in payload["items"]} == {("id", "media_type", "media_url")}
    for path, text in _scan(payload):
        assert not GOLD_WORDS.search(text) or path.endswith(("question", "detail")), (path, text)
    # item ids are random UUIDs, media URLs signed tokens of them: the same shape for both kinds
    for item in payload["items"]:
        assert uuid.UUID(item["id"]).version == 4
    assert len({len(i["media_url"]) for i in payload["items"]}) == 1
    # response headers of the set do not vary with its content
    assert not any(GOLD_WORDS.search(f"{k}: {v}") for k, v in response.items())

    # media: identical code path (same queries), headers, content type for gold and real items
    def fetch(item):
        with CaptureQueriesContext(connection) as ctx:
            r = w.client.get(item["media_url"])
        body = b"".join(r.streaming_content)
        headers = {k: v for k, v in r.items() if k not in ("Content-Length", "Content-Disposition")}
        return r.status_code, headers, len(ctx.captured_queries), body[4:8]

    assert fetch(gold[0])[:3] == fetch(real[0])[:3]
    assert fetch(gold[0])[3] == b"ftyp"

    # the page itself holds no item data at all
    page = w.client.get(f"/annotate/synthetic/?w={w.client._credentials['HTTP_X_WORKER_TOKEN']}")
    html = page.content.decode()
    assert not any(i["id"] in html for i in payload["items"]) and not GOLD_WORDS.search(html)

    # the set again (a reload) is byte-identical: nothing is revealed over time
    again = w.client.get(f"/api/work/sets/{payload['id']}/").json()
    assert again["items"] == payload["items"]


def test_refusal_does_not_say_which_gold_was_wrong(engine, make_worker):
    bodies = set()
    for n, name in enumerate(("a", "b")):
        w = make_worker(name)
        payload = w.assign().json()["set"]
        gold = [i["id"] for i in payload["items"] if is_gold(i["id"])]
        answers = {i["id"]: truth_of(i["id"], engine) for i in payload["items"]}
        for g in gold[n:n + 2] if len(gold) >= 3 else gold[:2]:
            answers[g] = not answers[g]
        r = w.submit(payload["id"], answers)
        assert r.status_code == 422
        bodies.add(r.content)
        assert not any(i in r.content.decode() for i in answers)
    assert len(bodies) == 1


def test_worker_facing_serializers_have_no_gold_field():
    from backend.annotation import serializers as ser

    for cls in (ser.TaskSetSerializer, ser.ItemSerializer, ser.SubmitResponseSerializer, ser.AssignResponseSerializer,
                ser.ActionInfoSerializer):
        fields = set(cls().fields)
        assert not {f for f in fields if GOLD_WORDS.search(f)}, (cls.__name__, fields)
