"""Who can reach what: staff-only API and pages, workers only their own sets, throttled sign-in."""
from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Reachable without staff rights, on purpose: worker-facing, public health, the schema and docs,
# and the pages that check their own credentials (signed links, MTurk assignments).
PUBLIC_PREFIXES = ("api/work/", "api/health/", "api/schema/", "api/docs/", "annotate/", "admin/", "static/",
                   "media/", "regions/", "api/regions/work", "mturk/", "api/mturk/external", "__")


def _patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def _concrete(pattern: str) -> str:
    path = re.sub(r"<int:[^>]+>", "1", pattern)
    path = re.sub(r"<uuid:[^>]+>", "00000000-0000-4000-8000-000000000000", path)
    path = re.sub(r"<(str:)?[^>]+>", "synthetic", path)
    return "/" + path.lstrip("^").rstrip("$").replace("\\", "")


def staff_routes():
    return sorted({_concrete(p) for p in _patterns() if not p.startswith(PUBLIC_PREFIXES)
                   and (p.startswith("api/") or p.startswith("dashboard/"))})


def test_the_route_list_is_not_empty():
    routes = staff_routes()
    assert "/api/datasets/" in routes and "/dashboard/" in routes and len(routes) > 15


@pytest.mark.parametrize("method", ["get", "post"])
def test_staff_routes_refuse_anonymous_and_workers(dataset, client, django_user_model, method):
    worker_user = django_user_model.objects.create_user(username="annotator", password="pw-123456-x")
    for route in staff_routes():
        response = getattr(client, method)(route)
        assert response.status_code in (302, 401, 403, 405), (route, response.status_code)
        if response.status_code == 302:
            assert "/admin/login/" in response["Location"], route
    client.force_login(worker_user)
    for route in staff_routes():
        response = getattr(client, method)(route)
        assert response.status_code in (302, 403, 405), (route, response.status_code)


def test_sign_in_is_throttled(client, settings, staff_user, monkeypatch):
    import django_ratelimit.core
    from django.core.cache import cache

    # One window for the whole test: django-ratelimit's windows end at a moment of each minute
    # that depends on the key, and twelve sign-ins (each hashing a password) could straddle one.
    monkeypatch.setattr(django_ratelimit.core, "_get_window", lambda value, period: 1_000_000)
    cache.clear()
    statuses = [client.post("/admin/login/", {"username": "curator", "password": "wrong"}).status_code
                for _ in range(12)]
    assert statuses[:10] == [200] * 10 and statuses[-1] == 403
    cache.clear()
