"""Roles on the dashboard's pages: every view of a dataset (a ``name`` in its URL) is wrapped in
``dataset_page(needed)``, which signs staff in, checks the role the view needs in that dataset
(``backend/videos/access.py``) and remembers the user's role on the request, for templates to show
only the controls the user may use. A refusal is a 403 page naming the dataset, the role needed and
the role held; nothing is changed."""
from __future__ import annotations

from functools import wraps

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.shortcuts import render

from backend.common.errors import DomainError, Forbidden
from backend.videos.access import CURATOR, REVIEWER, VIEWER, dataset_require, datasets_visible, role_allows
from backend.videos.selectors import dataset_get

__all__ = ["CURATOR", "REVIEWER", "VIEWER", "dataset_page", "role_context"]


def dataset_page(needed: str, *, doing: str | None = None):
    """A dashboard view of one dataset that needs ``needed`` (viewer, reviewer or curator) in it;
    ``doing`` names the action in the refusal ("correcting labels")."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            name = kwargs["name"]
            try:
                dataset = dataset_get(name=name)
            except DomainError as exc:
                raise Http404(exc.message) from exc
            what = doing or ("this page" if request.method in ("GET", "HEAD") else "this action")
            try:
                request.dataset_role = dataset_require(request.user, dataset, needed, doing=what)
            except Forbidden as exc:
                return render(request, "dashboard/denied.html", {
                    "message": exc.message, "datasets": datasets_visible(request.user), "section": "",
                    "dataset": dataset if _may_view(request.user, dataset) else None}, status=403)
            return view(request, *args, **kwargs)

        wrapped.dataset_role_needed = needed
        return staff_member_required(wrapped)

    return decorate


def _may_view(user, dataset) -> bool:
    """Whether the user may at least view the dataset (to keep its navigation on a refusal)."""
    try:
        dataset_require(user, dataset, VIEWER)
    except Forbidden:
        return False
    return True


def role_context(request) -> dict:
    """What templates need to show or hide controls: the role and what it allows."""
    role = getattr(request, "dataset_role", None)
    return {"role": role, "can_review": role_allows(role, REVIEWER), "can_curate": role_allows(role, CURATOR)}
