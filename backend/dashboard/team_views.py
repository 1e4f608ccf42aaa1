"""The Team page: who holds which role in the dataset (viewer, reviewer, curator); its curators add
staff users by username, change their role and revoke it (the last curator stays)."""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from backend.common.errors import DomainError
from backend.dashboard.roles import CURATOR, VIEWER, dataset_page
from backend.dashboard.views import _ctx, _dataset
from backend.videos.access import ROLES, role_rows
from backend.videos.services import dataset_role_revoke, dataset_role_set

ROLE_HELP = {
    "viewer": "reads every page and API route of the dataset",
    "reviewer": "also settles the disagreement queue and corrects labels",
    "curator": "does everything: gold, imports, vocabulary, candidate rounds, releases, retraining, campaigns, "
               "MTurk spend, annotator links and this team",
}


@dataset_page(VIEWER)
def team(request, name: str):
    dataset = _dataset(name)
    return render(request, "dashboard/team.html", _ctx(
        request, dataset, "team", rows=role_rows(dataset=dataset), roles=ROLES,
        role_help=[(r, ROLE_HELP[r]) for r in ROLES]))


def _back(name: str):
    return redirect(reverse("dashboard:team", args=[name]))


@dataset_page(CURATOR, doing="managing the team")
@require_POST
def team_save(request, name: str):
    """Give a staff user a role, or change theirs."""
    dataset = _dataset(name)
    username, role = request.POST.get("username", "").strip(), request.POST.get("role", "")
    try:
        found = dataset_role_set(dataset=dataset, username=username, role=role, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{found.user.username} is now a {found.role} of {dataset.name}.")
    return _back(name)


@dataset_page(CURATOR, doing="managing the team")
@require_POST
def team_revoke(request, name: str):
    dataset = _dataset(name)
    username = request.POST.get("username", "").strip()
    try:
        dataset_role_revoke(dataset=dataset, username=username, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{username} no longer has a role in {dataset.name}.")
    return _back(name)
