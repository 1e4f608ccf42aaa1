"""Invitations: a curator makes a signed annotator link with a label and an expiry, lists the links
and revokes them one by one; a revoked or expired link is refused at once and a revocation puts the
annotator's open sets back in the pool."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backend.annotation.models import Question, TaskSet
from backend.common.errors import DomainError
from backend.crowd.invites import ALREADY_REVOKED, BAD_DAYS, LABEL_REQUIRED, link_revoke, link_url, worker_invite
from backend.crowd.links import LINK_EXPIRED, LINK_REVOKED, worker_link_token
from backend.crowd.models import WorkerLink

pytestmark = pytest.mark.django_db


def _client(link: WorkerLink) -> APIClient:
    token = parse_qs(urlparse(link_url(link=link)).query)["w"][0]
    client = APIClient()
    client.credentials(HTTP_X_WORKER_TOKEN=token)
    return client


def test_an_invited_annotator_works_until_the_link_is_revoked(engine, staff_user):
    link = worker_invite(dataset=engine["dataset"], label="Ada (lab)", days=14, user=staff_user)
    assert link.worker.external_id.startswith("ada-lab-") and link.worker.group == "invited"
    assert link_url(link=link).startswith("http") and "/annotate/synthetic/?w=" in link_url(link=link)
    client = _client(link)
    got = client.post("/api/work/synthetic/sets/")
    assert got.status_code == 200 and got.json()["set"]
    held = Question.objects.filter(in_flight__gt=0).count()
    assert held > 0
    assert link_revoke(link=link, user=staff_user) == 1
    refused = client.post("/api/work/synthetic/sets/")
    assert refused.status_code == 403 and refused.json()["detail"] == LINK_REVOKED
    assert TaskSet.objects.get(worker=link.worker).status == "cancelled"
    assert Question.objects.filter(in_flight__gt=0).count() == 0  # back in the pool
    with pytest.raises(DomainError, match=ALREADY_REVOKED):
        link_revoke(link=link)


def test_an_expired_invitation_is_refused_and_its_own_expiry_outlives_the_plain_link_age(engine, settings):
    link = worker_invite(dataset=engine["dataset"], label="Bo", days=30)
    settings.MMIT_WORKER_LINK_MAX_AGE = 1  # plain links older than a second are expired ...
    client = _client(link)
    import time

    time.sleep(1.2)
    assert client.post("/api/work/synthetic/sets/").status_code == 200  # ... an invitation has its own expiry
    plain = APIClient()
    plain.credentials(HTTP_X_WORKER_TOKEN=worker_link_token(worker=link.worker))
    time.sleep(1.2)
    assert plain.post("/api/work/synthetic/sets/").json()["detail"] == LINK_EXPIRED
    WorkerLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = client.post("/api/work/synthetic/sets/")
    assert refused.status_code == 403 and refused.json()["detail"] == LINK_EXPIRED


def test_a_link_naming_another_invitation_is_invalid(engine):
    ada = worker_invite(dataset=engine["dataset"], label="Ada", days=3)
    bo = worker_invite(dataset=engine["dataset"], label="Bo", days=3)
    forged = APIClient()
    forged.credentials(HTTP_X_WORKER_TOKEN=worker_link_token(worker=ada.worker, link=bo))
    assert forged.post("/api/work/synthetic/sets/").status_code == 403


@pytest.mark.parametrize("label, days, message", [("", 5, LABEL_REQUIRED), ("Cy", 0, BAD_DAYS),
                                                  ("Cy", 400, BAD_DAYS), ("Cy", "soon", BAD_DAYS)])
def test_bad_invitations_are_refused_with_nothing_made(engine, label, days, message):
    with pytest.raises(DomainError) as error:
        worker_invite(dataset=engine["dataset"], label=label, days=days)
    assert error.value.message == message and not WorkerLink.objects.exists()


def test_the_annotators_page_invites_lists_and_revokes(engine, client, staff_user):
    client.force_login(staff_user)
    page = client.post("/dashboard/synthetic/annotators/invite/", {"label": "Ada", "days": "7"}, follow=True)
    text = page.content.decode()
    link = WorkerLink.objects.get()
    assert "Link for Ada made" in text and link_url(link=link).replace("&", "&amp;") in text and ">Copy<" in text
    assert 'class="new"' in text
    page = client.post(f"/dashboard/synthetic/annotators/{link.pk}/revoke/", follow=True).content.decode()
    assert "Link for Ada revoked: it is refused from now on." in page and "state-revoked" in page
    assert link_url(link=link) not in page  # a revoked link is not offered for copying
    bad = client.post("/dashboard/synthetic/annotators/invite/", {"label": "", "days": "7"}, follow=True)
    assert LABEL_REQUIRED in bad.content.decode()
    worker = client.get(f"/dashboard/synthetic/workers/{link.worker_id}/").content.decode()
    assert "Answers per day" in worker and "Invitations" in worker and "revoked" in worker


def test_only_staff_manage_links(engine, client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="someone", password="x-1234567890"))
    assert client.post("/dashboard/synthetic/annotators/invite/", {"label": "Eve", "days": "7"}).status_code == 302
    assert not WorkerLink.objects.exists()
