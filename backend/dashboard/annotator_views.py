"""The Annotators page: invite annotators with signed links (a label, an expiry, a copy button),
list the invitations and revoke them one by one."""
from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from backend.common.errors import DomainError
from backend.crowd.invites import MAX_DAYS, link_list, link_revoke, link_url, worker_invite
from backend.crowd.models import WorkerLink
from backend.dashboard.roles import CURATOR, VIEWER, dataset_page
from backend.dashboard.views import _ctx, _dataset


@dataset_page(VIEWER)
def annotators(request, name: str):
    dataset = _dataset(name)
    now = timezone.now()
    rows = [{"link": link, "url": link_url(link=link) if link.revoked_at is None and link.expires_at > now else "",
             "status": "revoked" if link.revoked_at else ("expired" if link.expires_at <= now else "active")}
            for link in link_list(dataset=dataset)[:200]]
    return render(request, "dashboard/annotators.html", _ctx(
        request, dataset, "annotators", rows=rows, max_days=MAX_DAYS, new=request.GET.get("new")))


@dataset_page(CURATOR)
@require_POST
def annotators_invite(request, name: str):
    dataset = _dataset(name)
    try:
        with transaction.atomic():
            link = worker_invite(dataset=dataset, label=request.POST.get("label", ""),
                                 days=request.POST.get("days", ""), user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("dashboard:annotators", args=[name]))
    messages.success(request, f"Link for {link.label} made: copy it below and send it; it works until "
                              f"{link.expires_at:%Y-%m-%d %H:%M} UTC unless you revoke it.")
    return redirect(reverse("dashboard:annotators", args=[name]) + f"?new={link.pk}")


@dataset_page(CURATOR)
@require_POST
def annotators_revoke(request, name: str, link_id: int):
    dataset = _dataset(name)
    link = WorkerLink.objects.filter(dataset=dataset, pk=link_id).first()
    if link is None:
        raise Http404("No such link.")
    try:
        released = link_revoke(link=link, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Link for {link.label} revoked: it is refused from now on"
                                  + (f"; {released} open set{'s' if released != 1 else ''} went back to the pool."
                                     if released else "."))
    return redirect(reverse("dashboard:annotators", args=[name]))
