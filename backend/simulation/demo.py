"""What `manage.py demo` prepares besides the data: the curator's account, and fresh work for the
people who try the printed annotator link.

The simulated crowd answers every question it is given, so after it the link would open on "All
done". The demo therefore asks a human-sized batch of new questions afterwards: pairs the crowd
was never asked, of one action, half of them true by the truth file, with the gold that action
needs (from the same truth file) -- a set of real questions, graded like anyone else's.
"""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count

from backend.annotation.models import GoldQuestion, Prompt
from backend.annotation.services.gold import gold_add
from backend.annotation.services.questions import questions_for_labels
from backend.annotation.services.yesno import YES_NO
from backend.crowd.models import Worker
from backend.labels.models import Label
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action

CURATOR = "curator"
PASSWORD_FILE = "demo-curator.txt"  # under VAR_DIR, readable by its owner only


@dataclass(frozen=True)
class Curator:
    username: str
    password: str | None  # None: the account's password was changed since the demo made it
    created: bool


def demo_curator_ensure(*, var_dir: Path) -> Curator:
    """The demo's curator account. Its password is made once and kept (a second `make demo` does
    not reset it): printed again while it is the one that works, never replaced behind the
    curator's back once they changed it."""
    user_model = get_user_model()
    store = var_dir / PASSWORD_FILE
    user = user_model.objects.filter(username=CURATOR).first()
    if user is not None:
        stored = store.read_text().strip() if store.exists() else ""
        return Curator(CURATOR, stored if stored and user.check_password(stored) else None, created=False)
    password = secrets.token_urlsafe(9)
    user_model.objects.create_superuser(username=CURATOR, email="curator@example.org", password=password)
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(password + "\n")
    store.chmod(0o600)
    return Curator(CURATOR, password, created=True)


def demo_questions_ensure(*, dataset: Dataset, truth: dict[str, set[str]], annotator: Worker, seed: int = 7) -> int:
    """Make sure ``annotator`` has a set of real questions to answer: when nothing is open for
    them, ask a new batch (the size of a set) about the action with the most pairs not asked
    yet. Returns how many questions were queued (0 when they already had work, or none is left)."""
    if YES_NO.available(dataset=dataset, worker=annotator, spec={}).exists():
        return 0
    videos = {v.name: v for v in Video.objects.filter(dataset=dataset, status=Video.Status.OK)}
    asked = set(Label.objects.filter(dataset=dataset).values_list("video__name", "action__name"))
    golden = set(GoldQuestion.objects.filter(dataset=dataset, prompt=Prompt.SEEN_OR_HEARD)
                 .values_list("video__name", "action__name"))
    actions = {a.name: a for a in Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE)}
    true_counts = {name: sum(1 for acts in truth.values() if name in acts) for name in actions}
    best, pairs = None, []
    for name in sorted(actions, key=lambda n: (-true_counts[n], n)):
        fresh = [v for v in sorted(videos) if (v, name) not in asked and (v, name) not in golden]
        positives = [v for v in fresh if name in truth.get(v, set())]
        if positives:
            best, pairs = name, fresh
            break
    if best is None:
        return 0
    rng = random.Random(f"{seed}-{best}")
    positives = [v for v in pairs if best in truth.get(v, set())]
    negatives = [v for v in pairs if best not in truth.get(v, set())]
    rng.shuffle(positives)
    rng.shuffle(negatives)
    n = max(1, dataset.set_size)
    chosen = positives[: (n + 1) // 2] + negatives[: n // 2]
    chosen += [v for v in positives + negatives if v not in chosen][: n - len(chosen)]
    action = actions[best]
    with transaction.atomic():
        _gold_ensure(dataset=dataset, truth=truth, action=action, videos=videos, exclude=set(chosen), rng=rng)
        Label.objects.bulk_create([
            Label(dataset=dataset, video=videos[v], action=action, asked_action=action, source=Label.Source.CURATOR)
            for v in chosen], ignore_conflicts=True)
        return questions_for_labels(dataset=dataset, labels=Label.objects.filter(
            dataset=dataset, action=action, video__name__in=chosen))


def _gold_ensure(*, dataset, truth, action, videos, exclude: set[str], rng: random.Random, per_action: int = 8) -> None:
    """Gold for the batch's action, from the truth file, half positive and half negative."""
    have = GoldQuestion.objects.filter(dataset=dataset, prompt=Prompt.SEEN_OR_HEARD, action=action, active=True) \
        .aggregate(n=Count("id"))["n"]
    need = per_action - have
    if need <= 0:
        return
    taken = set(GoldQuestion.objects.filter(dataset=dataset, action=action).values_list("video__name", flat=True))
    free = [v for v in sorted(videos) if v not in exclude and v not in taken]
    positives = [v for v in free if action.name in truth.get(v, set())]
    negatives = [v for v in free if action.name not in truth.get(v, set())]
    rng.shuffle(positives)
    rng.shuffle(negatives)
    for v, value in [(v, True) for v in positives[: (need + 1) // 2]] + [(v, False) for v in negatives[: need // 2]]:
        gold_add(dataset=dataset, video=videos[v], action=action, truth=value, note="demo: from the truth file")
