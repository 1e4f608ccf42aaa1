"""The exhaustive role walk: every staff route, every method it serves, every role.

ROUTES is the one table of what each route needs. A route with a dataset in its URL needs a role
in that dataset (viewer < reviewer < curator); a route without one is classified by what it needs
in at least one dataset (``ANY_*``), or ``STAFF`` (any staff user). A new staff route that is not in
the table fails ``test_every_staff_route_is_classified``: classify it here (and protect it).
"""
from __future__ import annotations

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.security.test_access import PUBLIC_PREFIXES, _concrete

pytestmark = pytest.mark.django_db

V, R, C = "viewer", "reviewer", "curator"
STAFF = "staff"
ANY_V, ANY_C = "any-viewer", "any-curator"  # that role in at least one dataset

ROUTES: dict[str, dict[str, str]] = {
    # -- API, one dataset ------------------------------------------------------------------------
    "api/datasets/<str:name>/": {"GET": V},
    "api/datasets/<str:name>/videos/": {"GET": V},
    "api/datasets/<str:name>/roles/": {"GET": V, "POST": C},
    "api/datasets/<str:name>/roles/<str:username>/": {"PATCH": C, "DELETE": C},
    "api/datasets/<str:name>/imports/": {"POST": C},
    "api/datasets/<str:name>/actions/": {"GET": V, "POST": C},
    "api/datasets/<str:name>/actions/<int:pk>/": {"GET": V, "PATCH": C},
    "api/datasets/<str:name>/actions/<int:pk>/rename/": {"POST": C},
    "api/datasets/<str:name>/actions/<int:pk>/merge/": {"POST": C},
    "api/datasets/<str:name>/actions/<int:pk>/remove/": {"POST": C},
    "api/datasets/<str:name>/vocabulary/migrate/": {"POST": C},
    "api/datasets/<str:name>/vocabulary/events/": {"GET": V},
    "api/datasets/<str:name>/labels/": {"GET": V},
    "api/datasets/<str:name>/labels/correct/": {"POST": R},
    "api/datasets/<str:name>/labels/queue/": {"GET": V},
    "api/datasets/<str:name>/labels/<int:pk>/": {"GET": V, "PATCH": R},
    "api/datasets/<str:name>/gold/": {"GET": V},
    "api/datasets/<str:name>/gold/upload/": {"POST": C},
    "api/datasets/<str:name>/gold/promote/": {"POST": C},
    "api/datasets/<str:name>/gold/<int:pk>/retire/": {"POST": C},
    "api/datasets/<str:name>/releases/": {"GET": V, "POST": C},
    "api/datasets/<str:name>/candidates/rounds/": {"GET": V, "POST": C},
    "api/datasets/<str:name>/candidates/rounds/<int:number>/": {"GET": V},
    "api/datasets/<str:name>/candidates/relations/": {"GET": V},
    "api/datasets/<str:name>/candidates/sources/": {"GET": V},
    "api/datasets/<str:name>/candidates/sources/<str:source>/": {"GET": V, "PATCH": C},
    "api/datasets/<str:name>/candidates/proposals/": {"GET": V},
    "api/datasets/<str:name>/candidates/predictions/": {"GET": V, "POST": C},
    "api/regions/<str:name>/frames/": {"POST": C},
    "api/regions/<str:name>/advance/": {"POST": C},
    "api/regions/<str:name>/stats/": {"GET": V},
    "api/regions/<str:name>/gold/": {"POST": C},
    # -- API, the dataset of an object (a job, a batch, a HIT made for the test in "synthetic") --
    "api/jobs/<uuid:pk>/": {"GET": V},
    "api/mturk/batches/<uuid:public_id>/": {"GET": V},
    "api/mturk/batches/<uuid:public_id>/publish/": {"POST": C},
    "api/mturk/batches/<uuid:public_id>/hits/": {"GET": V},
    "api/mturk/hits/<str:ref>/": {"GET": V},
    # -- API across datasets -----------------------------------------------------------------------
    "api/datasets/": {"GET": STAFF, "POST": STAFF},
    "api/mturk/batches/": {"GET": ANY_V, "POST": C},  # POST: curator of the dataset in the body
    "api/mturk/workers/": {"GET": ANY_V},
    "api/mturk/workers/<str:worker_id>/": {"GET": ANY_V},
    "api/mturk/workers/notify/": {"POST": ANY_C},
    "api/mturk/workers/<str:worker_id>/block/": {"POST": ANY_C},
    "api/mturk/workers/<str:worker_id>/unblock/": {"POST": ANY_C},
    "api/mturk/workers/<str:worker_id>/bonus/": {"POST": ANY_C},
    "api/mturk/review/": {"POST": ANY_C},
    "api/regions/exports/": {"POST": C},  # curator of every dataset in the body
    # -- dashboard -----------------------------------------------------------------------------------
    "dashboard/": {"GET": STAFF},
    "dashboard/<str:name>/": {"GET": V},
    "dashboard/<str:name>/workers/": {"GET": V},
    "dashboard/<str:name>/workers/<int:worker_id>/": {"GET": V},
    "dashboard/<str:name>/workers/<int:worker_id>/unblock/": {"POST": C},
    "dashboard/<str:name>/annotators/": {"GET": V},
    "dashboard/<str:name>/annotators/invite/": {"POST": C},
    "dashboard/<str:name>/annotators/<int:link_id>/revoke/": {"POST": C},
    "dashboard/<str:name>/labels/": {"GET": V},
    "dashboard/<str:name>/labels/export.csv": {"GET": V},
    "dashboard/<str:name>/labels/correct/": {"POST": R},
    "dashboard/<str:name>/labels/<int:label_id>/correct/": {"POST": R},
    "dashboard/<str:name>/review/": {"GET": V},
    "dashboard/<str:name>/review/export.csv": {"GET": V},
    "dashboard/<str:name>/workers/export.csv": {"GET": V},
    "dashboard/<str:name>/search/": {"GET": V},
    "dashboard/<str:name>/live/overview/": {"GET": V},
    "dashboard/<str:name>/live/releases/": {"GET": V},
    "dashboard/<str:name>/videos/<int:video_id>/": {"GET": V},
    "dashboard/<str:name>/releases/": {"GET": V},
    "dashboard/<str:name>/releases/export/": {"POST": C},
    "dashboard/<str:name>/releases/<int:version>/download/": {"GET": V},
    "dashboard/<str:name>/candidates/": {"GET": V},
    "dashboard/<str:name>/candidates/start/": {"POST": C},
    "dashboard/<str:name>/campaign/": {"GET": V},
    "dashboard/<str:name>/campaign/save/": {"POST": C},
    "dashboard/<str:name>/campaign/pause/": {"POST": C},
    "dashboard/<str:name>/campaign/resume/": {"POST": C},
    "dashboard/<str:name>/gold/": {"GET": V},
    "dashboard/<str:name>/gold/upload/": {"POST": C},
    "dashboard/<str:name>/gold/promote/": {"POST": C},
    "dashboard/<str:name>/gold/<int:gold_id>/retire/": {"POST": C},
    "dashboard/<str:name>/models/": {"GET": V},
    "dashboard/<str:name>/models/retrain/": {"POST": C},
    "dashboard/<str:name>/interpretation/": {"GET": V},
    "dashboard/<str:name>/interpretation/<int:run_id>/dissect/": {"POST": C},
    "dashboard/<str:name>/mturk/": {"GET": V},
    "dashboard/<str:name>/mturk/publish/": {"POST": C},
    "dashboard/<str:name>/regions/": {"GET": V},
    "dashboard/<str:name>/regions/frames/<int:target_id>/": {"GET": V},
    "dashboard/<str:name>/regions/select/": {"POST": C},
    "dashboard/<str:name>/regions/advance/": {"POST": C},
    "dashboard/<str:name>/regions/gold/": {"GET": V},
    "dashboard/<str:name>/regions/gold/add/": {"POST": C},
    "dashboard/<str:name>/regions/gold/<int:gold_id>/retire/": {"POST": C},
    "dashboard/<str:name>/regions/exports/": {"GET": V},
    "dashboard/<str:name>/regions/exports/start/": {"POST": C},
    "dashboard/<str:name>/regions/exports/<uuid:job_id>/download/": {"GET": V},
    "dashboard/<str:name>/team/": {"GET": V},
    "dashboard/<str:name>/team/save/": {"POST": C},
    "dashboard/<str:name>/team/revoke/": {"POST": C},
}

RANK = {None: 0, V: 1, R: 2, C: 3}
SUPERUSER = "superuser"
WHO = (None, V, R, C, SUPERUSER)
ZERO_UUID = uuid.UUID("00000000-0000-4000-8000-000000000000")


def _patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


def staff_patterns() -> dict[str, object]:
    return {p: cb for p, cb in _patterns() if not p.startswith(PUBLIC_PREFIXES)
            and (p.startswith("api/") or p.startswith("dashboard/"))}


def test_every_staff_route_is_classified():
    found = staff_patterns()
    missing = sorted(set(found) - set(ROUTES))
    assert not missing, f"classify these routes in ROUTES (and protect them): {missing}"
    stale = sorted(set(ROUTES) - set(found))
    assert not stale, f"these routes are gone: {stale}"
    for pattern, callback in found.items():
        view = getattr(callback, "view_class", None)
        if view is not None:  # an API view: every method it serves is in the table
            served = {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
            assert served == set(ROUTES[pattern]), (pattern, served)
        elif pattern.startswith("dashboard/<str:name>/"):  # a dataset page: it declares its role
            needed = set(ROUTES[pattern].values())
            assert getattr(callback, "dataset_role_needed", None) in needed, pattern


@pytest.fixture
def people(dataset, django_user_model):
    from backend.videos.models import DatasetRole

    users = {}
    for role in WHO:
        user = django_user_model.objects.create_user(username=f"u-{role or 'none'}", password="pw-123456-x",
                                                     is_staff=True, is_superuser=role == SUPERUSER)
        if role in (V, R, C):
            DatasetRole.objects.create(user=user, dataset=dataset, role=role)
        users[role] = user
    return users


@pytest.fixture
def objects(dataset):
    """The objects the concrete URLs name (ids 1, the zero uuid, "synthetic") where a route's dataset
    comes from its object."""
    from backend.common.models import Job
    from backend.mturk.models import Batch, Hit
    from tests.mturk.mturk_helpers import make_batch

    Job.objects.create(id=ZERO_UUID, kind="export_release", params={"dataset": dataset.name})
    batch = make_batch(dataset)
    Batch.objects.filter(pk=batch.pk).update(public_id=ZERO_UUID)
    Hit.objects.filter(batch=batch).update(token=dataset.name)


def _allowed(who, needed: str) -> bool:
    if who == SUPERUSER or needed == STAFF:
        return True
    return RANK[who] >= RANK[{ANY_V: V, ANY_C: C}.get(needed, needed)]


def _call(client, method: str, path: str):
    if method in ("GET", "POST"):
        return getattr(client, method.lower())(path)
    return getattr(client, method.lower())(path, data="{}", content_type="application/json")


@pytest.mark.parametrize("who", WHO, ids=lambda w: w or "no-role")
def test_each_role_reaches_exactly_what_the_table_says(who, people, objects, client, sent_tasks):
    client.force_login(people[who])
    wrong = []
    for pattern, methods in sorted(ROUTES.items()):
        path = _concrete(pattern)
        for method, needed in methods.items():
            response = _call(client, method, path)
            allowed = _allowed(who, needed)
            if allowed == (response.status_code == 403):
                wrong.append((method, path, needed, response.status_code))
    assert not wrong, f"{who or 'no-role'} staff: (method, path, needed, status) {wrong}"
