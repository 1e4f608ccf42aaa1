"""Simulated annotators against gunicorn + PostgreSQL + Redis through the HTTP API, reconciled.

    .venv/bin/python bench/load_annotators.py --annotators 200 --seconds 300 \\
        --server postgres://postgres@127.0.0.1:5432 --redis redis://127.0.0.1:6379/5 --json load.json

It creates its own database (dropped at the end; `--server sqlite` for a temporary SQLite file),
fills it with a dataset of `--actions` actions, gold for each action and `--questions` open
questions on small media files whose bytes identify the clip, and starts gunicorn (gthread) on a
free loopback port with REDIS_URL set, so the submit throttle and the cache use Redis. After a
short baseline (GET /api/health/ from as many clients, in the same run), `--annotators`
simulated annotators work for `--seconds`, each in a loop, as the annotator page does:

  ask for a set -> fetch every clip (and recognise it from its bytes) -> answer -> submit.

Most annotators are careful (`--accuracy`, so gold passes); a share (`--spammers`) answer at
random, are refused on gold and blocked, and come back under a new identity. Now and then an
annotator abandons a set and leaves (`--abandon`), sends the same submission again
(`--resubmit`, it must get the recorded outcome) or double-clicks (`--double-click`, two
identical submissions at once). Retryable answers (429, 503, a dropped connection) are retried
with the same submission id, as the page does. No think time unless `--think-ms` is given.

Printed (and written with `--json PATH`): requests/s and p50/p95/p99 latency per endpoint,
statuses per endpoint, sets and answers per second, CPU seconds of gunicorn, PostgreSQL, the
clients and everything else on the machine (it is shared, and the clients run on it too), and
the reconciliation, done in the database
once gunicorn has stopped: every set acknowledged as accepted is stored, with each of its answers
exactly once and with the value sent; nothing else is stored (no answers from refused attempts,
no attempt nobody was told about); the counters kept beside the rows (question answers/yes/no/
in_flight, worker counters) agree with the rows; blocked workers' answers to open questions do
not count. The exit status is 1 when a reconciliation check fails.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import random
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.serving import (  # noqa: E402
    CpuSplit,
    closed_loop,
    django_setup,
    gunicorn,
    percentile,
    require_loopback,
    scratch_database,
)

SECRET = "load-secret-" + "z" * 60
DATASET = "load"
RETRYABLE = {429, 502, 503, 504}
MAX_RETRIES = 8
LIMITS = {"annotators": 1000, "seconds": 3600, "questions": 2_000_000}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--annotators", type=int, default=200)
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                   help="PostgreSQL server to create the scratch database on, or `sqlite`")
    p.add_argument("--redis", default=os.environ.get("REDIS_URL"),
                   help="Redis for gunicorn's cache and throttle (default: $REDIS_URL; `none` for none)")
    # 2 cores: a few processes (the GIL) with enough threads to overlap database round trips;
    # 3x8 served ~10% more requests than 5x4 in 30-s trials here. SQLite serialises writers anyway.
    p.add_argument("--workers", type=int, default=None, help="gunicorn processes (default 3; 2 on SQLite)")
    p.add_argument("--threads", type=int, default=None, help="threads per gunicorn process (default 8; 4 on SQLite)")
    p.add_argument("--actions", type=int, default=12)
    p.add_argument("--questions", type=int, default=None,
                   help="open questions (default: enough for the run, 60 per second plus 30 per annotator)")
    p.add_argument("--gold", type=int, default=20, help="gold questions per action (half of them true)")
    p.add_argument("--set-size", type=int, default=20)
    p.add_argument("--media-bytes", type=int, default=4096)
    p.add_argument("--spammers", type=float, default=0.1, help="share of annotators answering at random")
    p.add_argument("--accuracy", type=float, default=0.97, help="careful annotators' accuracy per answer")
    p.add_argument("--abandon", type=float, default=0.03, help="probability of leaving a set unsubmitted")
    p.add_argument("--resubmit", type=float, default=0.05, help="probability of sending a submission again")
    p.add_argument("--double-click", type=float, default=0.02, help="probability of two identical submits at once")
    p.add_argument("--think-ms", type=float, default=0, help="mean think time per clip (default none)")
    p.add_argument("--baseline", type=float, default=5, help="seconds of GET /api/health/ first (0: skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="write the summary here")
    args = p.parse_args(argv)
    if not 1 <= args.annotators <= LIMITS["annotators"]:
        p.error(f"--annotators must be 1..{LIMITS['annotators']}")
    if not 1 <= args.seconds <= LIMITS["seconds"]:
        p.error(f"--seconds must be 1..{LIMITS['seconds']}")
    if args.questions is None:
        args.questions = int(60 * args.seconds + 30 * args.annotators)
    if not 1 <= args.questions <= LIMITS["questions"]:
        p.error(f"--questions must be 1..{LIMITS['questions']}")
    if args.redis in ("", "none"):
        args.redis = None
    if args.redis:
        require_loopback(args.redis, "--redis")
    sqlite = args.server == "sqlite"
    args.workers = args.workers or (2 if sqlite else 3)
    args.threads = args.threads or (4 if sqlite else 8)
    return args


# -- the data --------------------------------------------------------------------------------------

@dataclass
class World:
    """What the annotators know: the clip behind each media content, and the truth."""

    truth_of: dict[str, dict[str, bool]]  # content sha256 -> action name -> truth
    identities: dict[str, queue.SimpleQueue]  # group -> signed tokens of unused workers


def build_world(args, media_root: Path) -> World:
    """Dataset, actions, gold and questions in bulk (the run measures annotating, not importing)."""
    from backend.annotation.models import GoldQuestion
    from backend.annotation.services.questions import questions_for_labels
    from backend.crowd.links import worker_link_token
    from backend.crowd.models import Worker
    from backend.labels.models import Label
    from backend.videos.models import Dataset, Video
    from backend.vocabulary.models import Action

    rng = random.Random(args.seed)
    ds = Dataset.objects.create(name=DATASET, set_size=args.set_size)
    actions = Action.objects.bulk_create([
        Action(dataset=ds, name=f"action-{a:02d}", display_name=f"action {a}") for a in range(args.actions)])
    n_videos = args.gold + -(-args.questions // args.actions)
    folder = media_root / "load"
    folder.mkdir(parents=True, exist_ok=True)
    videos, truth_of = [], {}
    for i in range(n_videos):
        data = f"mmit load clip {i}\n".encode().ljust(args.media_bytes, b"\0")
        (folder / f"{i}.mp4").write_bytes(data)
        key = hashlib.sha256(data).hexdigest()
        if i < args.gold:  # gold clips: half of the gold of every action is true
            truth_of[key] = {a.name: (i + n) % 2 == 0 for n, a in enumerate(actions)}
        else:
            truth_of[key] = {a.name: rng.random() < 0.3 for a in actions}
        videos.append(Video(dataset=ds, source=f"/load/{i}.mp4", name=f"{i}.mp4", storage_key=f"load/{i}.mp4",
                            checksum=key, size_bytes=len(data)))
    videos = Video.objects.bulk_create(videos, batch_size=5000)
    GoldQuestion.objects.bulk_create([
        GoldQuestion(dataset=ds, action=a, video=v, truth=truth_of[v.checksum][a.name])
        for v in videos[:args.gold] for a in actions])
    pairs = [(v, a) for v in videos[args.gold:] for a in actions][:args.questions]
    Label.objects.bulk_create([Label(dataset=ds, video=v, action=a, asked_action=a, source=Label.Source.INITIAL)
                               for v, a in pairs], batch_size=5000)
    questions_for_labels(dataset=ds)
    from django.db import connection

    with connection.cursor() as cursor:
        # planner statistics, as a live database has them (bulk-loaded tables have none until
        # autovacuum comes by, and assignment's plans are then far slower than in production)
        cursor.execute("ANALYZE")

    # Blocked spammers and annotators who abandon come back under a new identity.
    n_spam = round(args.annotators * args.spammers)
    pools = {"careful": (args.annotators - n_spam) * 4 + 10, "spammer": n_spam * 40 + 10 if n_spam else 0}
    identities = {}
    for group, n in pools.items():
        workers = Worker.objects.bulk_create(
            [Worker(provider="inhouse", external_id=f"load-{group}-{k}", group=group) for k in range(n)],
            batch_size=5000)
        identities[group] = queue.SimpleQueue()
        for w in workers:
            identities[group].put(worker_link_token(worker=w))
    return World(truth_of=truth_of, identities=identities)


# -- what the annotators saw -----------------------------------------------------------------------

@dataclass
class Ledger:
    """Every request's latency and status, and every outcome the server acknowledged."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    graded: dict[tuple[str, str], bool] = field(default_factory=dict)  # (set, submission) -> accepted
    accepted: dict[str, dict[str, bool]] = field(default_factory=dict)  # set -> the answers accepted
    unknown: set[str] = field(default_factory=set)  # sets whose submit never got a definitive answer
    replay_mismatches: list[str] = field(default_factory=list)
    events: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, endpoint: str, status, seconds: float | None) -> None:
        with self.lock:
            self.statuses[endpoint][str(status)] += 1
            if seconds is not None:
                self.latencies[endpoint].append(seconds)

    def count(self, event: str, n: int = 1) -> None:
        with self.lock:
            self.events[event] += n


class Annotator:
    def __init__(self, *, group: str, args, world: World, pool, ledger: Ledger, deadline: float, seed: int):
        self.group, self.args, self.world, self.pool, self.ledger = group, args, world, pool, ledger
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.token: str | None = None

    def _over(self) -> bool:
        return time.monotonic() >= self.deadline

    def _call(self, endpoint: str, method: str, path: str, body: bytes | None = None):
        """One request; (status or None for a dropped connection, parsed JSON or None, raw bytes)."""
        import urllib3

        headers = {"X-Worker-Token": self.token, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            r = self.pool.urlopen(method, path, body=body, headers=headers, retries=False, redirect=False,
                                  timeout=urllib3.Timeout(connect=10, read=120))
        except urllib3.exceptions.HTTPError:
            self.ledger.request(endpoint, "dropped", None)
            return None, None, b""
        self.ledger.request(endpoint, r.status, time.perf_counter() - t0)
        data = None
        if r.headers.get("Content-Type", "").startswith("application/json"):
            try:
                data = json.loads(r.data or b"{}")
            except ValueError:
                pass
        return r.status, data, r.data

    def _new_identity(self) -> bool:
        try:
            self.token = self.world.identities[self.group].get_nowait()
            return True
        except queue.Empty:
            return False

    def _answer(self, truth: bool) -> bool:
        if self.group == "spammer":
            return self.rng.random() < 0.5
        return truth if self.rng.random() < self.args.accuracy else not truth

    def run(self) -> None:
        if not self._new_identity():
            self.ledger.count("annotators without an identity")
            return
        while not self._over():
            status, data, _ = self._call("assign", "POST", f"/api/work/{DATASET}/sets/")
            if status == 403:  # blocked: a new annotator takes this one's place
                self.ledger.count(f"{self.group} identities blocked")
                if not self._new_identity():
                    self.ledger.count("annotators out of identities")
                    return
                continue
            if status != 200 or data is None:
                time.sleep(0.2)
                continue
            payload = data.get("set")
            if not payload:
                self.ledger.count("no work")
                time.sleep(0.5)
                continue
            self.ledger.count("sets assigned")
            if not self.work(payload):
                return

    def work(self, payload: dict) -> bool:
        """Do one set; False when this seat has nothing more to do."""
        action = payload["action"]["name"]
        truths = {}
        for item in payload["items"]:
            if self._over():
                return False  # the run is over: the set is left open, as a closed browser leaves it
            status, _, body = self._call("media", "GET", item["media_url"])
            if status != 200:
                self.ledger.count("media missing")
                return True
            truths[item["id"]] = self.world.truth_of.get(hashlib.sha256(body).hexdigest(), {}).get(action, False)
            if self.args.think_ms:
                time.sleep(self.rng.uniform(0.5, 1.5) * self.args.think_ms / 1000)
        if self.rng.random() < self.args.abandon:
            self.ledger.count("sets abandoned")
            # the annotator leaves; a new one takes the seat (the set expires on its own)
            if not self._new_identity():
                self.ledger.count("abandoning annotators who came back")
            return True
        answers = {k: self._answer(t) for k, t in truths.items()}
        while not self._over():
            outcome = self.submit(payload["id"], answers)
            if outcome == "refused":
                # the page asks to review: the annotator looks at every clip again
                answers = {k: self._answer(t) for k, t in truths.items()}
                continue
            if outcome == "blocked" and not self._new_identity():
                self.ledger.count("annotators out of identities")
                return False
            return True
        return False

    def _submit_once(self, set_id: str, body: bytes):
        """Send until a definitive answer (retryable ones are retried with the same body)."""
        for attempt in range(MAX_RETRIES):
            status, data, _ = self._call("submit", "POST", f"/api/work/sets/{set_id}/submit/", body)
            if status is not None and status not in RETRYABLE:
                return status, data
            time.sleep(min(2.0, 0.1 * 2 ** attempt) * self.rng.uniform(0.5, 1.5))
        return None, None

    def submit(self, set_id: str, answers: dict[str, bool]) -> str:
        submission = str(uuid.uuid4())
        body = json.dumps({"submission_id": submission,
                           "answers": [{"item": k, "answer": v, "ms": self.rng.randint(400, 4000)}
                                       for k, v in answers.items()]}).encode()
        second = None
        if self.rng.random() < self.args.double_click:
            self.ledger.count("double clicks")
            second = {}
            clicker = threading.Thread(target=lambda: second.update(r=self._submit_once(set_id, body)))
            clicker.start()
        status, data = self._submit_once(set_id, body)
        if second is not None:
            clicker.join()
            self._compare(set_id, (status, data), second["r"], "double click")
        if status is None:
            with self.ledger.lock:
                self.ledger.unknown.add(set_id)
            return "unknown"
        kind = (data or {}).get("status")
        # graded: accepted, refused (review and resubmit), failed (no attempt left) or blocked
        # (this submission blocked the annotator: a new one takes the seat)
        if status in (200, 422) and kind in ("accepted", "refused", "failed", "blocked"):
            with self.ledger.lock:
                self.ledger.graded[(set_id, submission)] = status == 200
                if status == 200:
                    self.ledger.accepted[set_id] = dict(answers)
            self.ledger.count(f"submissions {kind}")
            if self.rng.random() < self.args.resubmit:
                self.ledger.count("resubmissions")
                self._compare(set_id, (status, data), self._submit_once(set_id, body), "resubmission")
            return kind
        if status == 403:
            self.ledger.count("submissions from blocked workers")
            return "blocked"
        self.ledger.count(f"submissions answered {status}")
        return "closed"

    def _compare(self, set_id: str, first, again, what: str) -> None:
        """The same submission sent again must get the recorded outcome."""
        (s1, d1), (s2, d2) = first, again
        if s1 is None or s2 is None:
            return
        if s1 != s2 or d1 != d2:
            with self.ledger.lock:
                self.ledger.replay_mismatches.append(f"{what} of set {set_id}: {s1} {d1} then {s2} {d2}")


def run_annotators(args, world: World, base: str, ledger: Ledger) -> float:
    import urllib3

    host, port = base.removeprefix("http://").split(":")
    # one keep-alive connection per annotator at most (a browser's), plus double clicks
    pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=args.annotators + 16, block=True)
    deadline = time.monotonic() + args.seconds
    n_spam = round(args.annotators * args.spammers)
    annotators = [Annotator(group="spammer" if k < n_spam else "careful", args=args, world=world, pool=pool,
                            ledger=ledger, deadline=deadline, seed=args.seed * 100_003 + k)
                  for k in range(args.annotators)]
    threads = [threading.Thread(target=a.run, daemon=True) for a in annotators]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()) + 300)
    stuck = sum(t.is_alive() for t in threads)
    if stuck:
        ledger.count("annotators still waiting at the end", stuck)
    return time.monotonic() - start


# -- reconciliation --------------------------------------------------------------------------------

def reconcile(ledger: Ledger) -> dict[str, dict]:
    """Checks of what is stored against what the annotators were told, and of the counters
    stored beside the rows against the rows. Each check: {"ok": bool, "detail": str}."""
    from django.db.models import Count, F, Q

    from backend.annotation.models import Answer, Attempt, GoldAnswer, Question, SetItem, TaskSet
    from backend.crowd.models import Worker

    checks: dict[str, dict] = {}

    def check(name: str, ok: bool, detail: str) -> None:
        checks[name] = {"ok": bool(ok), "detail": detail}

    unknown = ledger.unknown
    told = set(ledger.accepted)
    stored = {str(s) for s in TaskSet.objects.filter(status=TaskSet.Status.ACCEPTED).values_list("public_id",
                                                                                                  flat=True)}
    lost, unannounced = told - stored, stored - told - unknown
    check("accepted sets", not lost and not unannounced,
          f"{len(told)} acknowledged, {len(stored)} stored, {len(lost)} lost, {len(unannounced)} stored but never "
          f"acknowledged, {len(unknown & stored)} of {len(unknown)} with no definitive answer stored")

    # every item of every accepted set: one answer (real) or one gold answer, with the value sent
    items = list(SetItem.objects.filter(taskset__status=TaskSet.Status.ACCEPTED)
                 .values_list("taskset_id", "taskset__public_id", "public_id", "question_id", "gold_id"))
    answers = defaultdict(list)
    for ts, q, v in Answer.objects.values_list("taskset_id", "question_id", "value").iterator(chunk_size=10000):
        answers[(ts, q)].append(v)
    accepted_attempt_gold = Counter()
    for ts, g, v in GoldAnswer.objects.filter(taskset__status=TaskSet.Status.ACCEPTED).values_list(
            "taskset_id", "gold_id", "value"):
        accepted_attempt_gold[(ts, g, v)] += 1
    missing = duplicated = wrong = 0
    acknowledged = sum(len(a) for a in ledger.accepted.values())
    real_items = gold_items = told_items = 0
    for ts, set_id, item, q, g in items:
        sent = ledger.accepted.get(str(set_id), {}).get(str(item))
        told_items += sent is not None
        if q is not None:
            real_items += 1
            got = answers.get((ts, q), [])
            missing += not got
            duplicated += len(got) > 1
            wrong += bool(got) and sent is not None and got[0] != sent
        else:
            gold_items += 1
            if sent is not None and not accepted_attempt_gold.get((ts, g, sent)):
                wrong += 1
    stored_answers = Answer.objects.count()
    check("answers of accepted sets", missing == duplicated == wrong == 0 and stored_answers == real_items,
          f"{real_items} answers and {gold_items} gold answers in accepted sets against {acknowledged} acknowledged; "
          f"{stored_answers} answers stored; {missing} missing, {duplicated} duplicated, {wrong} with another value")
    check("acknowledged = stored", acknowledged == told_items,
          f"{acknowledged} answers acknowledged as accepted, {told_items} of them stored (answers and gold answers)")

    dup_pairs = Answer.objects.values("worker_id", "question_id").annotate(n=Count("id")).filter(n__gt=1).count()
    check("one answer per (worker, question)", dup_pairs == 0, f"{dup_pairs} pairs answered more than once")
    outside = Answer.objects.exclude(taskset__status=TaskSet.Status.ACCEPTED).count()
    check("no answers outside accepted sets", outside == 0, f"{outside} answers from refused, failed, expired or "
                                                            f"cancelled sets")

    attempts = {(str(s), str(sub)): acc for s, sub, acc in Attempt.objects.values_list(
        "taskset__public_id", "submission_id", "accepted")}
    disagree = sum(1 for key, acc in ledger.graded.items() if attempts.get(key) != acc)
    untold = sum(1 for key in attempts if key not in ledger.graded and key[0] not in unknown)
    gold_total = sum(Attempt.objects.values_list("gold_total", flat=True))
    gold_rows = GoldAnswer.objects.count()
    check("attempts", disagree == untold == 0 and gold_total == gold_rows,
          f"{len(ledger.graded)} graded submissions acknowledged, {len(attempts)} attempts stored, {disagree} "
          f"missing or with another outcome, {untold} never acknowledged; {gold_rows} gold answers for "
          f"{gold_total} gold items graded")
    check("idempotent resubmissions", not ledger.replay_mismatches,
          f"{ledger.events['resubmissions']} resubmissions, {ledger.events['double clicks']} double clicks, "
          f"{len(ledger.replay_mismatches)} with another outcome" +
          (f": {ledger.replay_mismatches[:3]}" if ledger.replay_mismatches else ""))

    # counters kept beside the rows
    counted = {q: (n, y) for q, n, y in Answer.objects.filter(excluded=False).values("question_id").annotate(
        n=Count("id"), y=Count("id", filter=Q(value=True))).values_list("question_id", "n", "y")}
    holding = dict(SetItem.objects.filter(taskset__status=TaskSet.Status.OPEN, question__isnull=False)
                   .values("question_id").annotate(n=Count("id")).values_list("question_id", "n"))
    bad_counts = bad_flight = 0
    for q, n, yes, no, flight in Question.objects.values_list("id", "answers", "yes", "no", "in_flight").iterator(
            chunk_size=10000):
        n_rows, y_rows = counted.get(q, (0, 0))
        bad_counts += (n, yes, no) != (n_rows, y_rows, n_rows - y_rows)
        bad_flight += flight != holding.get(q, 0)
    check("question counters", bad_counts == bad_flight == 0,
          f"{bad_counts} questions whose answers/yes/no differ from their rows, {bad_flight} whose in_flight "
          f"differs from the open sets holding them")

    per_worker = Worker.objects.annotate(
        n_answers=Count("answers", distinct=True),
        n_accepted=Count("sets", filter=Q(sets__status=TaskSet.Status.ACCEPTED), distinct=True),
    ).values_list("answers_count", "n_answers", "sets_accepted", "n_accepted")
    bad_workers = sum(1 for a, na, s, ns in per_worker if (a, s) != (na, ns))
    gold_per_worker = Worker.objects.annotate(
        n=Count("gold_answer_set"), ok=Count("gold_answer_set", filter=Q(gold_answer_set__correct=True)),
    ).values_list("gold_answers", "n", "gold_correct", "ok")
    bad_gold = sum(1 for a, n, c, ok in gold_per_worker if (a, c) != (n, ok))
    check("worker counters", bad_workers == bad_gold == 0,
          f"{bad_workers} workers whose answers/sets counters differ from their rows, {bad_gold} whose gold counters "
          f"differ")

    late = Answer.objects.filter(worker__blocked=True, created_at__gt=F("worker__blocked_at")).count()
    counting = Answer.objects.filter(worker__blocked=True, excluded=False, question__state=Question.State.OPEN).count()
    stray = Answer.objects.filter(excluded=True, worker__blocked=False).count()
    still_open = TaskSet.objects.filter(worker__blocked=True, status=TaskSet.Status.OPEN).count()
    check("blocked workers", late == counting == stray == still_open == 0,
          f"{late} answers stored after their worker was blocked, {counting} still counting on open questions, "
          f"{stray} excluded answers of unblocked workers, {still_open} open sets of blocked workers")
    return checks


def crowd_figures() -> dict:
    from django.db.models import Count, Q

    from backend.crowd.models import Worker

    rows = Worker.objects.filter(external_id__startswith="load-").filter(
        Q(last_seen_at__isnull=False)).values("group").annotate(
        seen=Count("id"), blocked=Count("id", filter=Q(blocked=True)))
    return {r["group"]: {"workers": r["seen"], "blocked": r["blocked"]} for r in rows}


# -- report ----------------------------------------------------------------------------------------

def summarise(args, ledger: Ledger, wall: float, baseline: dict | None, checks: dict, stored: dict) -> dict:
    endpoints = {}
    total = 0
    for name in ("assign", "media", "submit"):
        lat = ledger.latencies.get(name, [])
        n = sum(ledger.statuses[name].values())
        total += n
        endpoints[name] = {
            "requests": n, "requests_per_s": round(n / wall, 2),
            "p50_ms": round(percentile(lat, .50) * 1000, 1), "p95_ms": round(percentile(lat, .95) * 1000, 1),
            "p99_ms": round(percentile(lat, .99) * 1000, 1), "statuses": dict(sorted(ledger.statuses[name].items())),
        }
    all_lat = [x for v in ledger.latencies.values() for x in v]
    summary = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                   if k not in ("json",)},
        "wall_s": round(wall, 1),
        "requests": total, "requests_per_s": round(total / wall, 2),
        "p50_ms": round(percentile(all_lat, .50) * 1000, 1), "p95_ms": round(percentile(all_lat, .95) * 1000, 1),
        "p99_ms": round(percentile(all_lat, .99) * 1000, 1),
        "sets_accepted": len(ledger.accepted), "sets_per_s": round(len(ledger.accepted) / wall, 2),
        "answers_stored": stored["answers"], "answers_per_s": round(stored["answers"] / wall, 2),
        "endpoints": endpoints,
        "events": dict(sorted(ledger.events.items())),
        "crowd": stored["crowd"],
        "baseline_health": baseline,
        "reconciliation": {"ok": all(c["ok"] for c in checks.values()), "checks": checks},
    }
    if baseline:
        summary["ratio_requests_to_health"] = round(summary["requests_per_s"] / baseline["requests_per_s"], 3)
    return summary


def print_summary(s: dict) -> None:
    c = s["config"]
    print(f"\n{c['annotators']} annotators for {s['wall_s']} s ({c['server'].split('@')[-1]}, gunicorn "
          f"{c['workers']}x{c['threads']} gthread, redis {'on' if c['redis'] else 'off'})")
    if s["baseline_health"]:
        b = s["baseline_health"]
        print(f"  baseline GET /api/health/  {b['requests_per_s']:8.1f} req/s  p50 {b['p50_ms']:7.1f} ms  "
              f"p99 {b['p99_ms']:7.1f} ms")
    for name, e in s["endpoints"].items():
        print(f"  {name:<8} {e['requests']:8d} req  {e['requests_per_s']:8.1f} req/s  p50 {e['p50_ms']:7.1f} ms  "
              f"p95 {e['p95_ms']:7.1f} ms  p99 {e['p99_ms']:7.1f} ms  statuses {e['statuses']}")
    print(f"  all      {s['requests']:8d} req  {s['requests_per_s']:8.1f} req/s  p50 {s['p50_ms']:7.1f} ms  "
          f"p95 {s['p95_ms']:7.1f} ms  p99 {s['p99_ms']:7.1f} ms"
          + (f"  ({s['ratio_requests_to_health']:.3f} x health)" if s.get("ratio_requests_to_health") else ""))
    print(f"  sets accepted {s['sets_accepted']} ({s['sets_per_s']:.2f}/s), answers stored {s['answers_stored']} "
          f"({s['answers_per_s']:.1f}/s)")
    if s.get("cpu_seconds"):
        c = s["cpu_seconds"]
        print(f"  CPU seconds: gunicorn {c['server']}, postgres {c['postgres']}, clients {c['clients']}, "
              f"others {c['others']} ({c['cores_busy']} of {c['cores']} cores busy)")
    print(f"  events: {s['events']}")
    print(f"  crowd: {s['crowd']}")
    r = s["reconciliation"]
    print(f"reconciliation: {'OK' if r['ok'] else 'FAILED'}")
    for name, chk in r["checks"].items():
        print(f"  [{'ok' if chk['ok'] else 'FAIL'}] {name}: {chk['detail']}")


def main(argv=None) -> int:
    args = parse_args(argv)
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="mmit-load-"))
    media_root = scratch / "media"
    db_name = f"mmit_load_{os.getpid()}"
    with scratch_database(args.server, db_name) as url:
        t0 = time.monotonic()
        django_setup(database_url=url, secret=SECRET, extra_env={"MMIT_MEDIA_ROOT": str(media_root),
                                                                 "MMIT_VAR_DIR": str(scratch / "var")})
        world = build_world(args, media_root)
        print(f"setup: {args.questions} questions, {args.actions} actions, {args.gold} gold each, "
              f"{sum(q.qsize() for q in world.identities.values())} worker identities in "
              f"{time.monotonic() - t0:.1f} s")
        env = {"DATABASE_URL": url, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": SECRET, "DATABASE_CONN_MAX_AGE": "60",
               "MMIT_LOG_LEVEL": "WARNING", "MMIT_MEDIA_ROOT": str(media_root), "MMIT_VAR_DIR": str(scratch / "var"),
               "REDIS_URL": args.redis or ""}
        if not args.redis:
            os.environ.pop("REDIS_URL", None)  # the embedded defaults: per-process cache, filesystem broker
            env.pop("REDIS_URL")
        ledger = Ledger()
        log = scratch / "gunicorn.log"
        baseline = None
        try:
            with gunicorn(env=env, workers=args.workers, threads=args.threads, log=log) as served:
                base = served.url
                # every gunicorn process answers a few requests first (imports, connections)
                slots = args.workers * args.threads
                closed_loop(base, range(4 * slots), 60, slots, lambda j: ("GET", "/api/health/", {}, None))
                if args.baseline > 0:
                    lat, _, w = closed_loop(base, range(10**9), args.baseline, args.annotators,
                                            lambda j: ("GET", "/api/health/", {}, None))
                    baseline = {"requests_per_s": round(len(lat) / w, 1), "p50_ms": round(percentile(lat, .5) * 1000, 1),
                                "p99_ms": round(percentile(lat, .99) * 1000, 1)}
                cpu = CpuSplit(server_pid=served.pid, database=None if args.server == "sqlite" else db_name)
                cpu.start()
                wall = run_annotators(args, world, base, ledger)
                cpu_split = cpu.stop()
        finally:
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            errors = [n for n, line in enumerate(lines) if "Traceback" in line or " ERROR " in line
                      or "[CRITICAL]" in line]
            if errors:
                print(f"gunicorn logged {len(errors)} errors, the first ones:")
                for n in errors[:3]:
                    print("\n".join(lines[n:n + 25]))
        # gunicorn has stopped: nothing moves while the rows are counted
        checks = reconcile(ledger)
        from backend.annotation.models import Answer

        summary = summarise(args, ledger, wall, baseline, checks,
                            {"answers": Answer.objects.count(), "crowd": crowd_figures()})
        summary["cpu_seconds"] = cpu_split
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    print_summary(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if summary["reconciliation"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
