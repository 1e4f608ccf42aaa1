"""Staff API of the vocabulary: add, rename, merge, remove, events, migration."""
from __future__ import annotations

import pytest

from backend.vocabulary.models import Action


pytestmark = pytest.mark.django_db


def test_vocabulary_api(staff_client, dataset):
    actions = staff_client.get("/api/datasets/synthetic/actions/?limit=500").json()["results"]
    assert len(actions) == 12
    created = staff_client.post("/api/datasets/synthetic/actions/", {"name": "hopping"}, format="json")
    assert created.status_code == 201
    hop = created.json()["id"]
    dup = staff_client.post("/api/datasets/synthetic/actions/", {"name": "hopping"}, format="json")
    assert dup.status_code == 409
    jumping = Action.objects.get(dataset=dataset, name="jumping").id
    renamed = staff_client.post(f"/api/datasets/synthetic/actions/{hop}/rename/", {"name": "hop"}, format="json")
    assert renamed.json()["name"] == "hop"
    edited = staff_client.patch(f"/api/datasets/synthetic/actions/{hop}/",
                                {"definition": "to jump lightly", "synsets": ["hop.v.01"]}, format="json")
    assert edited.json()["synsets_curated"] is True
    merged = staff_client.post(f"/api/datasets/synthetic/actions/{hop}/merge/", {"into": jumping}, format="json")
    assert merged.json()["status"] == "merged" and merged.json()["merged_into"] == "jumping"
    flying = Action.objects.get(dataset=dataset, name="flying").id
    staff_client.post(f"/api/datasets/synthetic/actions/{flying}/remove/", {"reason": "noisy"}, format="json")
    into_removed = staff_client.post(f"/api/datasets/synthetic/actions/{jumping}/merge/", {"into": flying},
                                     format="json")
    assert into_removed.status_code == 400 and "removed" in into_removed.json()["detail"]
    events = staff_client.get("/api/datasets/synthetic/vocabulary/events/").json()["results"]
    assert [e["kind"] for e in events][:5] == ["remove", "merge", "edit", "rename", "add"]
    dry = staff_client.post("/api/datasets/synthetic/vocabulary/migrate/",
                            {"names": ["jumping", "falling/dropping", "sleeping"]}, format="json").json()
    assert dry["dry_run"] is True and dry["added"] == ["sleeping"]
    assert dry["combined"] == [{"name": "falling/dropping", "from": ["falling"]}]
    assert Action.objects.filter(dataset=dataset, status="active").count() == 11
