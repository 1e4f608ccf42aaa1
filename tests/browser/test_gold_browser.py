"""A curator finds a probably-wrong gold pair on the Gold page (Chromium), retires it, promotes a
unanimous label and is told clearly why a bad gold file was refused."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from backend.annotation.models import GoldQuestion, Question
from backend.labels.models import Label
from tests.annotation.test_gold_management import POPULATION, run_set

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_curator_retires_a_flagged_gold_pair_and_promotes_a_label(engine, make_worker, live_server, page,
                                                                  django_user_model, monkeypatch, tmp_path):
    django_user_model.objects.create_user(username="curator", password="mind-the-gold-1", is_staff=True,
                                          is_superuser=True)
    monkeypatch.setattr("backend.crowd.sets.assign._random", random.Random(18))
    rng = random.Random(3)
    Question.objects.filter(dataset=engine["dataset"]).update(needed=10, max_answers=10)
    planted = GoldQuestion.objects.order_by("id").first()
    GoldQuestion.objects.filter(pk=planted.pk).update(truth=not planted.truth)
    for group, count, behaviour in POPULATION:
        for i in range(count):
            worker = make_worker(f"{group}-{i}")
            while run_set(worker, engine, rng=rng, **behaviour) is not None:
                pass
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)

    page.goto(f"{live_server.url}/dashboard/synthetic/gold/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "mind-the-gold-1")
    page.click("input[type=submit]")
    page.wait_for_selector("h1:has-text('Gold')")
    assert "1 probably wrong" in page.locator(".gold-summary").inner_text()
    first = page.locator("table.gold tbody tr").first
    assert first.get_attribute("data-gold") == str(planted.pk) and "probably wrong" in first.inner_text()
    shots = Path(os.environ.get("MMIT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "gold.png"), full_page=True)

    first.locator("button:has-text('Retire')").click()
    page.wait_for_selector(".messages li.success")
    assert "retired: no longer served in new sets" in page.locator(".messages li.success").inner_text()
    assert not GoldQuestion.objects.get(pk=planted.pk).active
    assert "none flagged" in page.locator(".gold-summary").inner_text()
    assert "retired" in page.locator(f"tr[data-gold='{planted.pk}']").inner_text()

    # a label whose crowd answers so far are unanimous, decided as majority vote decides it (the
    # questions here ask for 10 answers, more than this crowd gives)
    label = next(q.label for q in Question.objects.filter(dataset=engine["dataset"]).order_by("id")
                 if len(values := list(q.answer_set.filter(excluded=False).values_list("value", flat=True))) >= 3
                 and len(set(values)) == 1)
    Label.objects.filter(pk=label.pk).update(state="positive" if values[0] else "negative")
    page.fill("input[name=label]", str(label.pk))
    page.click("button:has-text('Promote to gold')")
    page.wait_for_selector(".messages li.success")
    assert f"Label {label.pk} is now gold" in page.locator(".messages li.success").inner_text()
    assert GoldQuestion.objects.filter(video=label.video, action=label.action, active=True).exists()

    bad = tmp_path / "gold.csv"
    bad.write_text("video,action,truth\nnope.mp4,jumping,yes\n")
    page.set_input_files("input[name=file]", str(bad))
    page.click("button:has-text('Upload')")
    page.wait_for_selector(".messages li.error")
    assert page.locator(".messages li.error").inner_text() == "Gold file line 2: unknown video 'nope.mp4'."
    assert errors == []
