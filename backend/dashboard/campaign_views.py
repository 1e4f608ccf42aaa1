"""The Campaign page: the dataset's closed loop, created and edited here, with where it is."""
from __future__ import annotations

import json

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from backend.campaigns.models import Campaign
from backend.campaigns.services import campaign_pause, campaign_resume, campaign_save
from backend.candidates.services import candidate_sources_validate
from backend.common.errors import DomainError
from backend.dashboard.roles import CURATOR, VIEWER, dataset_page
from backend.dashboard.views import _ctx, _dataset

BAD_CONFIG = "The training configuration must be a JSON object of python -m ml.train options, e.g. {\"epochs\": 5}."
BAD_END = "The end time must be a date and time such as 2027-01-31 18:00."
STEPS = [value for value, _ in Campaign.Step.choices]


@dataset_page(VIEWER)
def campaign(request, name: str):
    dataset = _dataset(name)
    found = Campaign.objects.filter(dataset=dataset).select_related(
        "job", "candidate_round", "batch", "release", "model_run").first()
    steps = [{"value": value, "label": label, "current": found is not None and found.step == value}
             for value, label in Campaign.Step.choices]
    return render(request, "dashboard/campaign.html", _ctx(
        request, dataset, "campaign", campaign=found, steps=steps, all_sources=candidate_sources_validate(None),
        defaults=Campaign(dataset=dataset), history=list(reversed(found.history))[:50] if found else [],
        train_config=json.dumps(found.train_config) if found and found.train_config else ""))


def _fields(request) -> dict:
    post = request.POST
    fields = {name: post.get(name, "").strip() for name in
              ("max_rounds", "round_deadline_hours", "mturk_reward", "mturk_assignments", "budget",
               "train_processes")}
    fields["sources"] = post.getlist("sources")
    fields["mturk"] = post.get("mturk") == "on"
    fields["retrain"] = post.get("retrain") == "on"
    text = post.get("train_config", "").strip()
    try:
        fields["train_config"] = json.loads(text) if text else {}
    except ValueError as exc:
        raise DomainError(BAD_CONFIG, field="train_config") from exc
    end = post.get("ends_at", "").strip()
    if end:
        when = parse_datetime(end.replace("T", " "))
        if when is None:
            raise DomainError(BAD_END, field="ends_at")
        fields["ends_at"] = when
    else:
        fields["ends_at"] = None
    return fields


@dataset_page(CURATOR)
@require_POST
def campaign_update(request, name: str):
    dataset = _dataset(name)
    existed = Campaign.objects.filter(dataset=dataset).exists()
    try:
        with transaction.atomic():
            campaign_save(dataset=dataset, user=request.user.get_username(), **_fields(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Campaign settings saved." if existed else
                         "Campaign started: beat runs its first candidate round within a minute.")
    return redirect(reverse("dashboard:campaign", args=[name]))


@dataset_page(CURATOR)
@require_POST
def campaign_control(request, name: str, action: str):
    dataset = _dataset(name)
    found = Campaign.objects.filter(dataset=dataset).first()
    if found is None:
        messages.error(request, "This dataset has no campaign yet.")
        return redirect(reverse("dashboard:campaign", args=[name]))
    act = {"pause": campaign_pause, "resume": campaign_resume}[action]
    try:
        with transaction.atomic():
            act(campaign=found, user=request.user.get_username())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Campaign paused." if action == "pause" else "Campaign resumed.")
    return redirect(reverse("dashboard:campaign", args=[name]))
