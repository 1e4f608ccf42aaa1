"""Moments scale: every path a person waits on, on a million-video database.

    .venv/bin/python bench/scale.py [--videos 1000000] [--database mmit_scale] [--keep] [--rebuild]

The database is built once with the candidate benchmark's builder (bench/candidates_round.py:
``--videos`` videos with two verified labels each and a model's top-3, then two candidate
rounds, which leave about two open questions per video), plus gold for every action with open
questions, and a history: a million decided questions with the 3.2 million answers that decided
them, from 2,000 annotators over 60 days); with ``--keep`` it stays for the next run, which
reuses it (``migrate`` first, so a run of newer code measures its own indexes). Then, in one run, with DEBUG off:

- the health check, the baseline, in this process and through gunicorn;
- set assignment: new annotators one after another (their first set) and returning ones (their
  open set again), then 50 new annotators at once through gunicorn (assignments per second
  against the health check's requests per second with 50 clients, p50/p99);
- set submission (gold answered right);
- every dashboard page and every staff API list (first page, a deep page, each filter), and the
  annotator page of a signed link;
- a release export of the whole dataset (time, and peak memory of the process that exports);
- ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest statements met on the way.

Times are the median of ``--repeat`` requests after one warm-up (the first request is shown too).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.serving import closed_loop, gunicorn, percentile  # noqa: E402

SECRET = "scale-secret-" + "s" * 60
DATASET = "bench"
TARGET_PAGE_S = 0.5
TARGET_ASSIGN_S = 0.05
PARTS = ("assignment", "pages", "concurrent", "export")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--videos", type=int, default=1_000_000)
    p.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--database", default="mmit_scale", help="built once, reused while it exists")
    p.add_argument("--keep", action="store_true", help="keep the database for the next run")
    p.add_argument("--rebuild", action="store_true", help="drop the database first and build it again")
    p.add_argument("--repeat", type=int, default=3, help="timed requests per path, after one warm-up")
    p.add_argument("--annotators", type=int, default=20, help="new annotators assigned one after another")
    p.add_argument("--concurrent", type=int, default=50, help="annotators at once through gunicorn")
    p.add_argument("--seconds", type=float, default=20, help="length of the concurrent phase")
    p.add_argument("--explain", type=int, default=5, help="slowest statements to EXPLAIN")
    p.add_argument("--parts", default=",".join(PARTS),
                   help=f"what to measure, comma-separated (default all: {','.join(PARTS)})")
    p.add_argument("--history-annotators", type=int, default=2000,
                   help="annotators of the campaign's past answers (built once with the database)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args()


def admin(server: str, sql: str, fetch: bool = False):
    import psycopg2

    connection = psycopg2.connect(f"{server}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if fetch else None
    finally:
        connection.close()


def exists(server: str, name: str) -> bool:
    return bool(admin(server, f"SELECT 1 FROM pg_database WHERE datname = '{name}'", fetch=True))


def build(args) -> None:
    """The candidate benchmark's world: videos, labels, predictions, two rounds; then gold."""
    from django.db import connection

    from backend.annotation.models import GoldQuestion, Question
    from backend.candidates.policy import RoundPolicy
    from backend.candidates.services import candidate_round_run
    from backend.videos.models import Video
    from bench.candidates_round import build_data, simulate_pilot_answers

    figures: dict[str, float] = {}
    t0 = time.perf_counter()
    dataset, video_ids = build_data(videos=args.videos, seed=args.seed, figures=figures)
    policy = RoundPolicy.from_settings()
    sources = ["wordnet", "word2vec", "model"]
    candidate_round_run(dataset=dataset, sources=sources, policy=policy)
    simulate_pilot_answers(dataset)
    candidate_round_run(dataset=dataset, sources=sources, policy=policy)
    # gold for every action with open questions: 10 per action, half true (videos far from the questions')
    rng = random.Random(args.seed)
    actions = sorted(set(Question.objects.filter(dataset=dataset, state="open").values_list("action_id", flat=True)))
    pool = list(Video.objects.filter(dataset=dataset).order_by("-id").values_list("id", flat=True)[:20_000])
    GoldQuestion.objects.bulk_create([
        GoldQuestion(dataset=dataset, action_id=a, video_id=v, truth=k % 2 == 0, note="scale bench")
        for a in actions for k, v in enumerate(rng.sample(pool, 10))], ignore_conflicts=True, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"built in {time.perf_counter() - t0:.0f} s", flush=True)


HISTORY_GROUP = "scale-history"


def history(args) -> None:
    """A campaign's past: half of the imported labels were verified by the crowd -- their questions,
    decided, with the answers that decided them (3 on train, 5 on val) in accepted sets of 9 questions of one action,
    from 2,000 annotators over the last 60 days -- about a million questions and 3.2 million
    answers, so the counters and charts have a real history to count. Plain SQL, in the database."""
    from django.db import connection, transaction

    from backend.crowd.models import Worker
    from backend.videos.models import Dataset

    t0 = time.perf_counter()
    dataset = Dataset.objects.get(name=DATASET)
    Worker.objects.bulk_create([Worker(provider="inhouse", external_id=f"history-{i:04d}", group=HISTORY_GROUP)
                                for i in range(args.history_annotators)], batch_size=1000, ignore_conflicts=True)
    steps = [
        ("questions", """
            INSERT INTO annotation_question (dataset_id, action_id, prompt, video_id, image_key, label_id, ref, split,
                needed, max_answers, answers, in_flight, yes, no, state, decision, confidence, created_at, decided_at)
            SELECT l.dataset_id, l.action_id, 'seen_or_heard', l.video_id, '', l.id, 'history', v.split,
                   n.k, n.k, n.k, 0, CASE WHEN l.state = 'positive' THEN n.k ELSE 0 END,
                   CASE WHEN l.state = 'positive' THEN 0 ELSE n.k END, 'decided', l.state, 1.0,
                   now() - ((l.id %% 60) || ' days')::interval, now() - ((l.id %% 60) || ' days')::interval
            FROM labels_label l JOIN videos_video v ON v.id = l.video_id
                 CROSS JOIN LATERAL (SELECT CASE WHEN v.split = 'train' THEN 3 ELSE 5 END AS k) n
            WHERE l.dataset_id = %(d)s AND l.round = 0 AND l.id %% 2 = 0 AND l.state IN ('positive', 'negative')
              AND NOT EXISTS (SELECT 1 FROM annotation_question q WHERE q.label_id = l.id)"""),
        ("groups", """
            CREATE TEMP TABLE history_q AS
            SELECT id, action_id, answers AS needed, decision, created_at,
                   (row_number() OVER (PARTITION BY action_id ORDER BY id) - 1) / 9 AS g
            FROM annotation_question WHERE dataset_id = %(d)s AND ref = 'history'"""),
        ("sets", """
            CREATE TEMP TABLE history_s AS
            SELECT s.action_id, s.g, k, nextval(pg_get_serial_sequence('annotation_taskset', 'id')) AS id,
                   (SELECT array_agg(id ORDER BY id) FROM crowd_worker WHERE "group" = %(group)s)
                       [1 + ((s.action_id * 7919 + s.g * 31 + k) %% %(n)s)] AS worker_id, s.created_at
            FROM (SELECT action_id, g, max(needed) AS needed, min(created_at) AS created_at
                  FROM history_q GROUP BY action_id, g) s
                 CROSS JOIN LATERAL generate_series(0, s.needed - 1) k"""),
        ("tasksets", """
            INSERT INTO annotation_taskset (id, public_id, dataset_id, worker_id, action_id, prompt, status, attempts,
                max_attempts, provider_ref, created_at, expires_at, closed_at)
            SELECT id, gen_random_uuid(), %(d)s, worker_id, action_id, 'seen_or_heard', 'accepted', 1, 3, '{}',
                   created_at, created_at + interval '30 minutes', created_at + interval '2 minutes'
            FROM history_s"""),
        ("answers", """
            INSERT INTO annotation_answer (question_id, worker_id, taskset_id, value, duration_ms, excluded, created_at)
            SELECT q.id, s.worker_id, s.id, q.decision = 'positive', 600 + (q.id * 37 + s.k * 101) %% 2400, false,
                   s.created_at
            FROM history_q q JOIN history_s s ON s.action_id = q.action_id AND s.g = q.g AND s.k < q.needed"""),
        ("annotators' counters", """
            UPDATE crowd_worker w SET answers_count = a.n, sets_accepted = a.sets, gold_answers = a.sets,
                   gold_correct = a.sets, last_seen_at = now()
            FROM (SELECT worker_id, count(*) AS n, count(DISTINCT taskset_id) AS sets FROM annotation_answer
                  GROUP BY worker_id) a
            WHERE w.id = a.worker_id AND w."group" = %(group)s"""),
    ]
    params = {"d": dataset.pk, "group": HISTORY_GROUP, "n": args.history_annotators}
    with transaction.atomic(), connection.cursor() as cursor:
        for name, sql in steps:
            start = time.perf_counter()
            cursor.execute(sql, params)
            print(f"  history: {name}: {cursor.rowcount:,} rows, {time.perf_counter() - start:.1f} s", flush=True)
        cursor.execute("DROP TABLE history_q; DROP TABLE history_s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"history in {time.perf_counter() - t0:.0f} s", flush=True)


def timed(fn, repeat: int) -> dict:
    first_start = time.perf_counter()
    first = fn()
    first_s = time.perf_counter() - first_start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    status = getattr(first, "status_code", None)
    return {"first_s": round(first_s, 4), "median_s": round(statistics.median(times), 4) if times else None,
            "max_s": round(max(times), 4) if times else None, "status": status}


class Statements:
    """The SQL of the requests timed, with the time each took (Django's execute wrapper)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[float, str, list]] = {}

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            key = sql[:300]
            if elapsed > self.seen.get(key, (0.0,))[0]:
                self.seen[key] = (elapsed, sql, list(params or []) if not many else [])


def measure_pages(client, args, statements: Statements) -> dict:
    from django.db import connection

    from backend.candidates.models import Relation
    from backend.labels.models import Label
    from backend.videos.models import Dataset, Video
    from backend.vocabulary.models import Action

    dataset = Dataset.objects.get(name=DATASET)
    action = Action.objects.filter(dataset=dataset, labels__state="pending").order_by("id").first()
    video = Video.objects.filter(dataset=dataset).order_by("-id").first()
    deep_label = Label.objects.filter(dataset=dataset).order_by("-id").values_list("id", flat=True).first() * 9 // 10
    relation = Relation.objects.filter(dataset=dataset).order_by("id").first()
    deep_video = Video.objects.filter(dataset=dataset).order_by("-id").values_list("id", flat=True).first() * 9 // 10
    # DRF's cursor: the base64 of "p=<id>" (position), as its next links carry it
    deep_cursor = quote(base64.b64encode(urlencode({"p": deep_video}).encode()).decode())
    d = f"/dashboard/{DATASET}"
    a = f"/api/datasets/{DATASET}"
    paths = {
        "dashboard home": "/dashboard/",
        "dataset overview": f"{d}/",
        "workers page": f"{d}/workers/",
        "workers page, deep": f"{d}/workers/?offset=200",
        "label browser": f"{d}/labels/",
        "label browser: pending": f"{d}/labels/?state=pending",
        "label browser: positive": f"{d}/labels/?state=positive",
        "label browser: one action": f"{d}/labels/?action={action.name}",
        "label browser: source wordnet": f"{d}/labels/?source=wordnet",
        "label browser: deep (offset)": f"{d}/labels/?offset=900000",
        "label browser: deep (after)": f"{d}/labels/?after={deep_label}",
        "label browser: deep (before)": f"{d}/labels/?before={deep_label}",
        "label browser: pending, deep": f"{d}/labels/?state=pending&after={deep_label}",
        "video page": f"{d}/videos/{video.pk}/",
        "releases page": f"{d}/releases/",
        "candidates page": f"{d}/candidates/",
        "candidates page: stopped": f"{d}/candidates/?state=stopped",
        "models page": f"{d}/models/",
        "interpretation page": f"{d}/interpretation/",
        "mturk page": f"{d}/mturk/",
        "API datasets": "/api/datasets/",
        "API dataset": f"{a}/",
        "API videos": f"{a}/videos/",
        "API videos: deep (offset)": f"{a}/videos/?offset=900000",
        "API videos: deep (cursor)": f"{a}/videos/?cursor={deep_cursor}",
        "API videos: split val": f"{a}/videos/?split=val",
        "API videos: quarantined": f"{a}/videos/?status=quarantined",
        "API actions": f"{a}/actions/",
        "API vocabulary events": f"{a}/vocabulary/events/",
        "API releases": f"{a}/releases/",
        "API candidate rounds": f"{a}/candidates/rounds/",
        "API candidate round 2": f"{a}/candidates/rounds/2/",
        "API relations": f"{a}/candidates/relations/",
        "API relations: stopped": f"{a}/candidates/relations/?state=stopped",
        "API relations: deep": f"{a}/candidates/relations/?offset=2000",
        "API sources": f"{a}/candidates/sources/",
        "API predictions": f"{a}/candidates/predictions/",
        "API MTurk batches": "/api/mturk/batches/",
        "API MTurk workers": "/api/mturk/workers/",
        "API regions stats": f"/api/regions/{DATASET}/stats/",
        "API schema": "/api/schema/",
    }
    if relation is None:
        paths.pop("API relations: deep")
    out = {}
    with connection.execute_wrapper(statements):
        for name, path in paths.items():
            out[name] = {"path": path, **timed(lambda p=path: client.get(p), args.repeat)}
            print(f"  {name:<34} {out[name]['median_s'] * 1000:8.1f} ms (first {out[name]['first_s'] * 1000:8.1f} ms)"
                  f"  {out[name]['status']}", flush=True)
    return out


def new_worker(tag: str):
    from backend.crowd.links import worker_link_token
    from backend.crowd.models import Worker

    worker = Worker.objects.create(provider="inhouse", external_id=f"scale-{tag}-{uuid.uuid4().hex[:10]}")
    return worker, worker_link_token(worker=worker)


def measure_assignment(client, args, statements: Statements) -> dict:
    from django.db import connection

    from backend.annotation.models import SetItem

    new, again, submit, tokens = [], [], [], []
    with connection.execute_wrapper(statements):
        for i in range(args.annotators):
            worker, token = new_worker("seq")
            start = time.perf_counter()
            r = client.post(f"/api/work/{DATASET}/sets/", HTTP_X_WORKER_TOKEN=token)
            new.append(time.perf_counter() - start)
            payload = r.json().get("set")
            if r.status_code != 200 or payload is None:
                raise RuntimeError(f"no set for a new annotator: {r.status_code} {r.content[:300]}")
            start = time.perf_counter()
            client.post(f"/api/work/{DATASET}/sets/", HTTP_X_WORKER_TOKEN=token)
            again.append(time.perf_counter() - start)
            tokens.append((token, payload))
        for token, payload in tokens[: max(1, args.annotators // 2)]:
            gold = dict(SetItem.objects.filter(taskset__public_id=payload["id"], gold__isnull=False)
                        .values_list("public_id", "gold__truth"))
            answers = [{"item": item["id"], "answer": gold.get(uuid.UUID(item["id"]), True), "ms": 900}
                       for item in payload["items"]]
            start = time.perf_counter()
            r = client.post(f"/api/work/sets/{payload['id']}/submit/",
                            data=json.dumps({"submission_id": str(uuid.uuid4()), "answers": answers}),
                            content_type="application/json", HTTP_X_WORKER_TOKEN=token)
            submit.append(time.perf_counter() - start)
            if r.status_code != 200:
                raise RuntimeError(f"submission refused: {r.status_code} {r.content[:300]}")

    def stats(values):
        return {"n": len(values), "p50_ms": round(percentile(values, 0.5) * 1000, 1),
                "p99_ms": round(percentile(values, 0.99) * 1000, 1), "all_ms": [round(v * 1000, 1) for v in values]}

    out = {"new": stats(new), "returning": stats(again), "submit": stats(submit)}
    for name, figures in out.items():
        print(f"  {name:<10} p50 {figures['p50_ms']:8.1f} ms  p99 {figures['p99_ms']:8.1f} ms  (n={figures['n']})",
              flush=True)
    return out


def measure_concurrent(args, database_url: str) -> dict:
    tokens = [new_worker("conc")[1] for _ in range(int(args.concurrent * args.seconds * 20))]
    env = {"DATABASE_URL": database_url, "DJANGO_SECRET_KEY": SECRET, "DJANGO_DEBUG": "0"}
    with gunicorn(env=env, workers=3, threads=8) as served:
        health_lat, health_st, health_wall = closed_loop(
            served.url, range(10 ** 7), args.seconds, args.concurrent, lambda _: ("GET", "/api/health/", {}, None))
        lat, statuses, wall = closed_loop(
            served.url, tokens, args.seconds, args.concurrent,
            lambda token: ("POST", f"/api/work/{DATASET}/sets/", {"X-Worker-Token": token}, None))
    health_rps = len(health_lat) / health_wall
    rps = len(lat) / wall
    bad = sum(1 for _, s in statuses if s != 200)
    out = {"health_rps": round(health_rps, 1), "health_p50_ms": round(percentile(health_lat, 0.5) * 1000, 1),
           "assign_rps": round(rps, 1), "assign_p50_ms": round(percentile(lat, 0.5) * 1000, 1),
           "assign_p99_ms": round(percentile(lat, 0.99) * 1000, 1), "non_200": bad,
           "ratio": round(rps / health_rps, 3) if health_rps else None}
    print(f"  health {health_rps:7.1f} req/s; assign {rps:7.1f}/s p50 {out['assign_p50_ms']} ms "
          f"p99 {out['assign_p99_ms']} ms ({bad} non-200); ratio {out['ratio']}", flush=True)
    return out


def measure_export(database_url: str) -> dict:
    """The export in a process of its own, so its peak memory is its own."""
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SECRET_KEY": SECRET, "DJANGO_DEBUG": "0"}
    code = ("import resource, time, django; django.setup()\n"
            "from backend.videos.models import Dataset\nfrom backend.releases.services import release_export\n"
            "from pathlib import Path\nimport tempfile\nt = time.perf_counter()\n"
            f"r = release_export(dataset=Dataset.objects.get(name='{DATASET}'), out_dir=Path(tempfile.mkdtemp()))\n"
            "print('EXPORT', time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
            " r.stats.get('labels'))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("EXPORT")), None)
    if line is None:
        raise RuntimeError(done.stderr[-3000:])
    _, seconds, maxrss_kb, labels = line.split()
    out = {"seconds": round(float(seconds), 1), "peak_mb": round(int(maxrss_kb) / 1024, 1), "labels": labels}
    print(f"  release export: {out['seconds']} s, peak {out['peak_mb']} MB ({labels} labels)", flush=True)
    return out


def explain(statements: Statements, n: int) -> list[dict]:
    from django.db import connection

    slowest = sorted(statements.seen.values(), key=lambda s: -s[0])[:n]
    plans = []
    for elapsed, sql, params in slowest:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        plans.append({"seconds": round(elapsed, 4), "sql": sql[:2000], "plan": plan})
        print(f"\n-- {elapsed * 1000:.1f} ms: {sql[:400]}\n{plan}", flush=True)
    return plans


def main() -> int:
    args = parse_args()
    database_url = f"{args.server}/{args.database}"
    if args.rebuild and exists(args.server, args.database):
        admin(args.server, f'DROP DATABASE "{args.database}" WITH (FORCE)')
    fresh = not exists(args.server, args.database)
    if fresh:
        admin(args.server, f'CREATE DATABASE "{args.database}"')
    os.environ.update({"DATABASE_URL": database_url, "DJANGO_SECRET_KEY": SECRET, "DJANGO_DEBUG": "0",
                       "DJANGO_SETTINGS_MODULE": "backend.config.settings"})
    report: dict = {"database": args.database}
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        from backend.annotation.models import Question
        from backend.videos.models import Dataset, Video

        if fresh or not Dataset.objects.filter(name=DATASET).exists():
            print(f"building {args.videos:,} videos in {args.database} ...", flush=True)
            build(args)
        from backend.crowd.models import Worker

        if not Worker.objects.filter(group=HISTORY_GROUP, answers_count__gt=0).exists():
            print("adding the campaign's history ...", flush=True)
            history(args)
        dataset = Dataset.objects.get(name=DATASET)
        from backend.annotation.models import Answer

        report["world"] = {"videos": Video.objects.filter(dataset=dataset).count(),
                           "open_questions": Question.objects.filter(dataset=dataset, state="open").count(),
                           "decided_questions": Question.objects.filter(dataset=dataset, state="decided").count(),
                           "answers": Answer.objects.filter(taskset__dataset=dataset).count()}
        print(f"world: {report['world']}", flush=True)
        user, _ = get_user_model().objects.get_or_create(username="scale-curator",
                                                         defaults={"is_staff": True, "is_superuser": True})
        client = Client()
        client.force_login(user)
        statements = Statements()
        print("health check (in process):", flush=True)
        report["health"] = timed(lambda: client.get("/api/health/"), args.repeat)
        print(f"  {report['health']['median_s'] * 1000:.1f} ms", flush=True)
        parts = set(args.parts.split(","))
        if "assignment" in parts:
            print("set assignment and submission (in process):", flush=True)
            report["assignment"] = measure_assignment(client, args, statements)
        slow: dict = {}
        if "pages" in parts:
            annotator, token = new_worker("page")
            print("pages and API lists (in process):", flush=True)
            report["pages"] = measure_pages(client, args, statements)
            report["pages"]["annotator page"] = {"path": "/annotate/bench/?w=...", **timed(
                lambda: client.get(f"/annotate/{DATASET}/?w={token}"), args.repeat)}
            slow = {k: v["median_s"] for k, v in report["pages"].items() if (v["median_s"] or 0) > TARGET_PAGE_S}
            print(f"  pages over {TARGET_PAGE_S} s: {slow or 'none'}", flush=True)
        if "concurrent" in parts:
            print(f"{args.concurrent} annotators at once through gunicorn:", flush=True)
            report["concurrent"] = measure_concurrent(args, database_url)
        if "export" in parts:
            report["export"] = measure_export(database_url)
        report["explain"] = explain(statements, args.explain)
        if "assignment" in report:
            new_p50 = report["assignment"]["new"]["p50_ms"] / 1000
            print(f"\nnew annotator's set: p50 {new_p50 * 1000:.1f} ms (target {TARGET_ASSIGN_S * 1000:.0f} ms): "
                  f"{'PASS' if new_p50 <= TARGET_ASSIGN_S else 'FAIL'}")
        if "concurrent" in report:
            print(f"concurrent assignment / health: {report['concurrent']['ratio']} (target 0.5): "
                  f"{'PASS' if (report['concurrent']['ratio'] or 0) >= 0.5 else 'FAIL'}")
        if "pages" in report:
            print(f"pages and lists over {TARGET_PAGE_S} s: {len(slow)}: {'PASS' if not slow else 'FAIL'}")
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str))
        return 0
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin(args.server, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            print(f"dropped database {args.database}")


if __name__ == "__main__":
    sys.exit(main())
