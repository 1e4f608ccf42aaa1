"""Roles per dataset: the rules (viewer < reviewer < curator, superusers curate everything), the
team's management (API and Team page), and refusals that name the problem and change nothing."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from backend.common.errors import Forbidden
from backend.labels.models import Label
from backend.videos.access import (
    CURATOR,
    NO_ROLE,
    REVIEWER,
    ROLE_TOO_LOW,
    VIEWER,
    dataset_require,
    dataset_role,
    datasets_visible,
    role_allows,
)
from backend.videos.models import DatasetRole, Video
from backend.videos.services import (
    LAST_CURATOR,
    NOT_STAFF,
    UNKNOWN_USER,
    dataset_create,
    dataset_role_revoke,
    dataset_role_set,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(dataset, django_user_model):
    """A curator, a reviewer and a viewer of "synthetic", a staff user without a role, a worker."""
    users = {}
    for name in ("cora", "rev", "vic", "nobody"):
        users[name] = django_user_model.objects.create_user(username=name, password="pw-123456-x", is_staff=True)
    users["worker"] = django_user_model.objects.create_user(username="worker", password="pw-123456-x")
    for name, role in (("cora", CURATOR), ("rev", REVIEWER), ("vic", VIEWER)):
        DatasetRole.objects.create(user=users[name], dataset=dataset, role=role)
    return users


@pytest.fixture
def label(dataset):
    jumping = dataset.actions.get(name="jumping")
    video = Video.objects.create(dataset=dataset, source="/x/v.mp4", name="v.mp4", storage_key="videos/v.mp4",
                                 checksum="c")
    return Label.objects.create(dataset=dataset, video=video, action=jumping, asked_action=jumping,
                                source="initial", state="pending")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _roles(dataset) -> dict[str, str]:
    return dict(DatasetRole.objects.filter(dataset=dataset).values_list("user__username", "role"))


# -- the rules -----------------------------------------------------------------------------------------
def test_roles_are_ordered_and_superusers_curate_every_dataset(dataset, team, staff_user):
    other = dataset_create(name="other")
    assert [dataset_role(team[n], dataset) for n in ("cora", "rev", "vic", "nobody", "worker")] == \
        [CURATOR, REVIEWER, VIEWER, None, None]
    assert dataset_role(staff_user, dataset) == dataset_role(staff_user, other) == CURATOR
    assert role_allows(CURATOR, REVIEWER) and role_allows(REVIEWER, VIEWER) and not role_allows(VIEWER, REVIEWER)
    assert not role_allows(None, VIEWER)
    assert list(datasets_visible(team["vic"])) == [dataset]
    assert list(datasets_visible(team["nobody"])) == []
    assert list(datasets_visible(staff_user)) == [other, dataset]  # by name
    assert list(datasets_visible(team["rev"], REVIEWER)) == [dataset]
    assert list(datasets_visible(team["vic"], REVIEWER)) == []


def test_a_refusal_names_the_dataset_the_role_needed_and_the_role_held(dataset, team):
    with pytest.raises(Forbidden) as low:
        dataset_require(team["vic"], dataset, REVIEWER, doing="correcting labels")
    assert low.value.message == "You are a viewer of dataset 'synthetic'; correcting labels needs the reviewer role."
    assert low.value.status_code == 403
    with pytest.raises(Forbidden) as none:
        dataset_require(team["nobody"], dataset, VIEWER, doing="this page")
    assert none.value.message == NO_ROLE.format(dataset="synthetic", doing="this page", needed="viewer")


# -- the API --------------------------------------------------------------------------------------------
def test_a_viewer_cannot_correct_a_label_and_nothing_changes(dataset, team, label):
    response = api(team["vic"]).patch(f"/api/datasets/synthetic/labels/{label.pk}/",
                                      {"state": "negative", "reason": "no"}, format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": ROLE_TOO_LOW.format(role="viewer", dataset="synthetic",
                                                             doing="correcting labels", needed="reviewer")}
    label.refresh_from_db()
    assert (label.state, label.corrected) == ("pending", False)
    # a reviewer can, and a viewer still reads it
    ok = api(team["rev"]).patch(f"/api/datasets/synthetic/labels/{label.pk}/",
                                {"state": "negative", "reason": "no"}, format="json")
    assert ok.status_code == 200 and ok.json()["state"] == "negative"
    assert api(team["vic"]).get(f"/api/datasets/synthetic/labels/{label.pk}/").status_code == 200


def test_a_reviewer_cannot_change_the_vocabulary_and_the_message_names_the_route(dataset, team):
    before = dataset.actions.count()
    response = api(team["rev"]).post("/api/datasets/synthetic/actions/", {"name": "yodelling"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == ("You are a reviewer of dataset 'synthetic'; POST "
                                         "/api/datasets/synthetic/actions/ needs the curator role.")
    assert dataset.actions.count() == before


def test_staff_without_a_role_see_no_dataset_and_are_refused_in_it(dataset, team):
    client = api(team["nobody"])
    assert client.get("/api/datasets/").json()["results"] == []
    response = client.get("/api/datasets/synthetic/")
    assert response.status_code == 403 and "You have no role in dataset 'synthetic'" in response.json()["detail"]
    assert client.get("/api/datasets/nothere/").status_code == 404
    names = [d["name"] for d in api(team["vic"]).get("/api/datasets/").json()["results"]]
    assert names == ["synthetic"]


def test_a_staff_user_who_creates_a_dataset_becomes_its_curator(team):
    response = api(team["nobody"]).post("/api/datasets/", {"name": "mine"}, format="json")
    assert response.status_code == 201
    assert DatasetRole.objects.get(dataset__name="mine").user == team["nobody"]
    assert api(team["nobody"]).post("/api/datasets/mine/actions/", {"name": "yodelling"},
                                    format="json").status_code == 201


def test_jobs_are_read_by_viewers_of_their_dataset(dataset, team):
    from backend.common.models import Job

    other = dataset_create(name="other")
    mine = Job.objects.create(kind="export_release", params={"dataset": dataset.name})
    theirs = Job.objects.create(kind="export_release", params={"dataset": other.name})
    assert api(team["vic"]).get(f"/api/jobs/{mine.pk}/").status_code == 200
    refused = api(team["vic"]).get(f"/api/jobs/{theirs.pk}/")
    assert refused.status_code == 403 and "'other'" in refused.json()["detail"]


def test_mturk_spend_needs_a_curator_and_lists_show_only_ones_datasets(dataset, team):
    from backend.mturk.models import Batch
    from tests.mturk.mturk_helpers import make_batch

    make_batch(dataset)
    make_batch(dataset_create(name="other"), first_hit=100)
    listed = api(team["vic"]).get("/api/mturk/batches/").json()["results"]
    assert [b["dataset"] for b in listed] == ["synthetic"]
    before = Batch.objects.count()
    refused = api(team["rev"]).post("/api/mturk/batches/", {"dataset": "synthetic", "reward": "0.40",
                                                            "budget": "5"}, format="json")
    assert refused.status_code == 403 and "needs the curator role" in refused.json()["detail"]
    assert Batch.objects.count() == before


def test_the_team_api_grants_changes_and_revokes(dataset, team, django_user_model):
    django_user_model.objects.create_user(username="newbie", password="pw-123456-x", is_staff=True)
    cora = api(team["cora"])
    granted = cora.post("/api/datasets/synthetic/roles/", {"username": "newbie", "role": "viewer"}, format="json")
    assert granted.status_code == 200 and granted.json()["role"] == "viewer"
    assert granted.json()["granted_by"] == "cora"
    changed = cora.patch("/api/datasets/synthetic/roles/newbie/", {"role": "reviewer"}, format="json")
    assert changed.status_code == 200 and _roles(dataset)["newbie"] == "reviewer"
    listed = api(team["vic"]).get("/api/datasets/synthetic/roles/").json()
    assert [r["username"] for r in listed][:1] == ["cora"] and {r["username"] for r in listed} >= {"newbie"}
    assert cora.delete("/api/datasets/synthetic/roles/newbie/").status_code == 204
    assert "newbie" not in _roles(dataset)


@pytest.mark.parametrize("body, status, message", [
    ({"username": "ghost", "role": "viewer"}, 404, UNKNOWN_USER.format(username="ghost")),
    ({"username": "worker", "role": "viewer"}, 400, NOT_STAFF.format(username="worker")),
    ({"username": "nobody", "role": "owner"}, 400, "The role must be one of viewer, reviewer, curator (not 'owner')."),
    ({"username": "cora", "role": "viewer"}, 409, LAST_CURATOR.format(username="cora", dataset="synthetic")),
])
def test_the_team_api_refuses_bad_input_and_changes_nothing(dataset, team, body, status, message):
    before = _roles(dataset)
    response = api(team["cora"]).post("/api/datasets/synthetic/roles/", body, format="json")
    assert response.status_code == status and response.json()["detail"] == message
    assert _roles(dataset) == before


def test_only_curators_manage_the_team_and_the_last_curator_stays(dataset, team):
    refused = api(team["rev"]).post("/api/datasets/synthetic/roles/", {"username": "nobody", "role": "curator"},
                                    format="json")
    assert refused.status_code == 403 and "needs the curator role" in refused.json()["detail"]
    assert "nobody" not in _roles(dataset)
    last = api(team["cora"]).delete("/api/datasets/synthetic/roles/cora/")
    assert last.status_code == 409 and "last curator" in last.json()["detail"]
    # with a second curator the first may step down
    dataset_role_set(dataset=dataset, username="rev", role=CURATOR, actor=team["cora"])
    dataset_role_revoke(dataset=dataset, username="cora", actor=team["cora"])
    assert _roles(dataset) == {"rev": "curator", "vic": "viewer"}


# -- the dashboard ---------------------------------------------------------------------------------------
def test_a_viewer_sees_no_controls_and_a_posted_correction_is_refused(client, team, label):
    client.force_login(team["vic"])
    page = client.get("/dashboard/synthetic/labels/").content.decode()
    assert "/labels/correct/" not in page and f"/labels/{label.pk}/correct/" not in page
    for section in ("releases", "models", "gold", "candidates", "mturk", "team"):
        assert 'method="post"' not in client.get(f"/dashboard/synthetic/{section}/").content.decode(), section
    refused = client.post(f"/dashboard/synthetic/labels/{label.pk}/correct/", {"do": "negative", "reason": "x"})
    assert refused.status_code == 403
    text = refused.content.decode()
    assert "You are a viewer of dataset &#x27;synthetic&#x27;; correcting labels needs the reviewer role." in text
    assert "Nothing was changed." in text
    label.refresh_from_db()
    assert label.state == "pending"


def test_a_reviewer_corrects_on_the_dashboard_but_exports_nothing(client, team, label):
    from backend.common.models import Job

    client.force_login(team["rev"])
    assert f"/labels/{label.pk}/correct/" in client.get("/dashboard/synthetic/labels/").content.decode()
    assert client.post(f"/dashboard/synthetic/labels/{label.pk}/correct/",
                       {"do": "negative", "reason": "x"}).status_code == 302
    label.refresh_from_db()
    assert label.state == "negative"
    assert client.post("/dashboard/synthetic/releases/export/").status_code == 403
    assert not Job.objects.exists()


def test_home_lists_only_ones_datasets_with_the_role(client, team):
    dataset_create(name="other")
    client.force_login(team["rev"])
    page = client.get("/dashboard/").content.decode()
    assert "/dashboard/synthetic/" in page and "/dashboard/other/" not in page and ">reviewer<" in page
    client.force_login(team["nobody"])
    assert "You have no role in any dataset yet" in client.get("/dashboard/").content.decode()


def test_the_team_page_grants_changes_and_revokes(client, team, dataset):
    client.force_login(team["cora"])
    response = client.post("/dashboard/synthetic/team/save/", {"username": "nobody", "role": "viewer"})
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["nobody is now a viewer of synthetic."]
    client.post("/dashboard/synthetic/team/save/", {"username": "nobody", "role": "reviewer"})
    assert _roles(dataset)["nobody"] == "reviewer"
    page = client.get("/dashboard/synthetic/team/").content.decode()
    assert 'data-member="nobody"' in page and "Add or change" in page
    refused = client.post("/dashboard/synthetic/team/revoke/", {"username": "cora"})
    assert [str(m) for m in get_messages(refused.wsgi_request)] == [LAST_CURATOR.format(username="cora",
                                                                                          dataset="synthetic")]
    client.post("/dashboard/synthetic/team/revoke/", {"username": "nobody"})
    assert "nobody" not in _roles(dataset)
    # a viewer reads the team but cannot change it
    client.force_login(team["vic"])
    assert "Add or change" not in client.get("/dashboard/synthetic/team/").content.decode()
    assert client.post("/dashboard/synthetic/team/save/", {"username": "vic", "role": "curator"}).status_code == 403
    assert _roles(dataset)["vic"] == "viewer"


def test_a_region_export_needs_a_curator_of_every_dataset_it_names(dataset, team):
    from backend.common.models import Job

    dataset_create(name="other")
    refused = api(team["cora"]).post("/api/regions/exports/", {"datasets": ["synthetic", "other"]}, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("You have no role in dataset 'other'; POST /api/regions/exports/ needs "
                                               "the curator role")
    assert not Job.objects.exists()


def test_the_admin_edits_roles_inline_and_on_their_own(client, staff_user, dataset, team):
    client.force_login(staff_user)
    change = client.get(f"/admin/videos/dataset/{dataset.pk}/change/").content.decode()
    assert "roles-TOTAL_FORMS" in change and "cora" in change
    listing = client.get("/admin/videos/datasetrole/").content.decode()
    assert "vic" in listing and "reviewer" in listing
