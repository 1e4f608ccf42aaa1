"""Set submissions per second against gunicorn + PostgreSQL, with every answer reconciled.

    python bench/annotation_submit.py --seconds 30 --clients 32

It creates its own PostgreSQL database (dropped at the end), fills it with a dataset, questions,
gold and one open 20-item set per simulated worker, starts gunicorn on a free port, measures
the platform's own floor first (GET /api/health/, the baseline, in the same run), then has
`--clients` concurrent clients submit sets for `--seconds`, and reconciles: every accepted
submission's answers are stored exactly once and nothing else is.

The clients are wrk connections when wrk is installed (`apt-get install wrk`), else Python
threads (`--client python`), which spend about a millisecond of the same cores per request.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-" + "x" * 60
sys.path.insert(0, str(REPO))

from bench.serving import (  # noqa: E402
    CpuSplit,
    closed_loop,
    django_setup,
    gunicorn,
    percentile,
    scratch_database,
    wrk_available,
    wrk_closed_loop,
)


def setup_database(url: str, n_sets: int, set_size: int) -> list[tuple[str, str, list]]:
    """Rows made in bulk (the benchmark measures submission, not set assembly)."""
    django_setup(database_url=url, secret=SECRET)
    from django.utils import timezone

    from backend.annotation.models import GoldQuestion, Question, SetItem, Shown, TaskSet
    from backend.crowd.links import worker_link_token
    from backend.crowd.models import Worker
    from backend.videos.models import Dataset, Video
    from backend.vocabulary.models import Action

    ds = Dataset.objects.create(name="bench", set_size=set_size)
    action = Action.objects.create(dataset=ds, name="jumping", display_name="jumping")
    n_real = set_size - 2
    videos = Video.objects.bulk_create(
        [Video(dataset=ds, source=f"/bench/{i}.mp4", name=f"{i}.mp4", storage_key=f"k/{i}.mp4", checksum=str(i))
         for i in range(-(-n_sets // 3) * n_real + 10)], batch_size=5000)
    gold = GoldQuestion.objects.bulk_create(
        [GoldQuestion(dataset=ds, action=action, video=videos[i], truth=i % 2 == 0) for i in range(10)])
    # every question is in 3 sets (the train redundancy)
    questions = Question.objects.bulk_create(
        [Question(dataset=ds, action=action, video=v, needed=3, max_answers=9, in_flight=3) for v in videos[10:]],
        batch_size=5000)
    workers = Worker.objects.bulk_create(
        [Worker(provider="inhouse", external_id=f"bench-{i}", sets_accepted=10) for i in range(n_sets)],
        batch_size=5000)
    expires = timezone.now() + timezone.timedelta(hours=6)
    sets = TaskSet.objects.bulk_create(
        [TaskSet(dataset=ds, worker=w, action=action, expires_at=expires) for w in workers], batch_size=5000)
    items, shown, plan = [], [], []
    for n, (w, ts) in enumerate(zip(workers, sets)):
        chosen = [questions[(n // 3 * n_real + k) % len(questions)] for k in range(n_real)]
        golds = [gold[(2 * n) % 10], gold[(2 * n + 1) % 10]]
        answers = []
        for pos, q in enumerate(chosen):
            item = SetItem(taskset=ts, position=pos, question=q)
            items.append(item)
            shown.append(Shown(worker=w, question=q))
            answers.append((item, pos % 2 == 0))
        for pos, g in enumerate(golds, start=n_real):
            item = SetItem(taskset=ts, position=pos, gold=g)
            items.append(item)
            answers.append((item, g.truth))
        plan.append((w, ts, answers))
    SetItem.objects.bulk_create(items, batch_size=5000)
    Shown.objects.bulk_create(shown, batch_size=5000, ignore_conflicts=True)
    # Sets sharing questions (3 per question) are submitted far apart, as they would be in a real
    # campaign, rather than back to back.
    plan = [p for k in range(3) for p in plan[k::3]]
    # A live database has planner statistics; tables filled a moment ago have none until autovacuum
    # gets to them, and without them PostgreSQL may scan a whole table to update 18 rows.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return [(worker_link_token(worker=w), str(ts.public_id), [(str(i.public_id), a) for i, a in answers])
            for w, ts, answers in plan]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--sets", type=int, default=None, help="Sets prepared (default: 400 per second of run).")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--worker-class", choices=["gthread", "sync"], default="gthread",
                        help="gunicorn worker class; sync is what docker-compose.yml runs (one request per "
                             "process at a time, a connection per request)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator: wrk when installed (auto), or Python threads")
    args = parser.parse_args()
    use_wrk = args.client == "wrk" or (args.client == "auto" and wrk_available())
    if use_wrk and not wrk_available():
        raise SystemExit("wrk is not installed (apt-get install wrk); or use --client python")

    with scratch_database(args.pg, f"mmit_bench_{os.getpid()}") as url:
        n_sets = args.sets or int(400 * args.seconds)
        t0 = time.monotonic()
        plan = setup_database(url, n_sets, 20)
        print(f"setup: {n_sets} sets of 20 in {time.monotonic() - t0:.1f} s")
        env = {"DATABASE_URL": url, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": SECRET,
               "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
               "DATABASE_CONN_MAX_AGE": "60", "MMIT_THROTTLE_SUBMIT": "100000/min", "MMIT_LOG_LEVEL": "WARNING"}
        health = lambda j: ("GET", "/api/health/", {}, None)  # noqa: E731

        def submit_request(job):
            token, set_id, answers = job
            body = json.dumps({"submission_id": str(uuid.uuid4()),
                               "answers": [{"item": i, "answer": a, "ms": 900} for i, a in answers]})
            return ("POST", f"/api/work/sets/{set_id}/submit/",
                    {"X-Worker-Token": token, "Content-Type": "application/json"}, body)

        health_seconds = min(10.0, args.seconds / 3)
        threads = args.threads if args.worker_class == "gthread" else 1
        with gunicorn(env=env, workers=args.workers, threads=threads, worker_class=args.worker_class) as served:
            base = served.url
            cpu = CpuSplit(server_pid=served.pid, database=url.rsplit("/", 1)[1])
            if use_wrk:
                h = wrk_closed_loop(base, [None] * int(2000 * health_seconds), health_seconds, args.clients, health)
                health_rps, health_p50, health_p99 = h.rps, h.p50, h.p99
                r = wrk_closed_loop(base, plan, args.seconds, args.clients, submit_request, on_start=cpu.start)
                split = cpu.stop()
                rps, p50, p99, n_ok, n_done, errors = r.rps, r.p50, r.p99, r.ok, r.requests, r.failed + r.socket_errors
            else:
                health_lat, _, health_wall = closed_loop(base, range(10**9), health_seconds, args.clients, health)
                health_rps = len(health_lat) / health_wall
                health_p50, health_p99 = percentile(health_lat, .5), percentile(health_lat, .99)
                cpu.start()
                lat, statuses, wall = closed_loop(base, plan, args.seconds, args.clients, submit_request)
                split = cpu.stop()
                rps, p50, p99 = len(lat) / wall, percentile(lat, .5), percentile(lat, .99)
                n_ok, n_done = sum(1 for _, status in statuses if status == 200), len(lat)
                errors = n_done - n_ok
        print(f"clients: {'wrk' if use_wrk else 'Python threads'}, {args.clients} connections; "
              f"gunicorn {args.workers}x{threads} {args.worker_class}")
        print(f"baseline GET /api/health/: {health_rps:7.1f} req/s  p50 {health_p50 * 1000:6.1f} ms  "
              f"p99 {health_p99 * 1000:6.1f} ms")
        print(f"POST submit (20 answers) : {rps:7.1f} req/s  p50 {p50 * 1000:6.1f} ms  "
              f"p99 {p99 * 1000:6.1f} ms  ({n_done} submissions, {errors} non-200)")
        print(f"ratio submit/health throughput: {rps / health_rps:.3f}")
        if split:
            per = {k: split[k] / max(1, n_done) * 1000 for k in ("clients", "server", "postgres", "others")}
            print("CPU during the submit phase: " + ", ".join(f"{k} {split[k]} s" for k in per)
                  + f", {split['cores_busy']} of {split['cores']} cores busy")
            print("CPU per submission (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in per.items()))
        reconcile(n_ok, in_flight_at_end=args.clients if use_wrk else 0)


def reconcile(n_ok: int, in_flight_at_end: int) -> None:
    """Every accepted set has its 18 answers and one attempt, nothing else is stored, and the sets
    accepted are those answered 200 (wrk stops with up to one request per connection unanswered,
    which the server may still have accepted)."""
    from django.db.models import Count

    from backend.annotation.models import Answer, Attempt, TaskSet

    accepted_sets = TaskSet.objects.filter(status="accepted").count()
    answers = Answer.objects.count()
    attempts = Attempt.objects.count()
    stray = Answer.objects.exclude(taskset__status="accepted").count()
    uneven = (TaskSet.objects.filter(status="accepted").annotate(n=Count("answers")).exclude(n=18).count())
    ok = (answers == 18 * accepted_sets and attempts == accepted_sets and stray == 0 and uneven == 0
          and n_ok <= accepted_sets <= n_ok + in_flight_at_end)
    print(f"reconcile: {n_ok} accepted responses, {accepted_sets} accepted sets, {attempts} attempts, "
          f"{answers} answers stored, {18 * accepted_sets} expected (18 per accepted set), "
          f"{uneven} sets with another count, {stray} answers outside accepted sets -> "
          f"{'OK' if ok else 'MISMATCH'}")


if __name__ == "__main__":
    main()
