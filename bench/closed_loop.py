"""The closed loop's rehearsal at its target size, with the commands a curator types.

A world of ``--clips`` clips from ``manage.py generate_clips`` (several actions drawn together in
most clips, ``truth.csv`` and a single-label ``manifest.csv``), imported with one trusted label per
clip, a ``create_dataset``-default dataset with the M-MiT vocabulary, and a harsh crowd: half
careful (0.93/0.96), a quarter sloppy (0.75/0.80), a quarter spammers (random and always-yes).
Then ``simulate_crowd --compare-retrain``: the loop with a small model retrained after every round,
and the same seed without retraining. Prints each round of both runs and the targets:

- within the rounds, recall over all true pairs >= 0.85 at precision >= 0.99 (retrained run);
- the model source's harvest >= 20% in some round;
- the retrained model's held-out micro mAP higher in the last round than in the first;
- the retrained run within 30 minutes on 2 CPU cores.

Runs in a database and a var directory of its own (a temporary SQLite file unless
``--database-url``)::

    .venv/bin/python bench/closed_loop.py --clips 600 --rounds 6 --json closed_loop.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VOCABULARY = ROOT / "backend" / "vocabulary" / "data" / "mmit_v2_292.txt"
WORKERS = [
    {"name": "careful", "count": 8, "sensitivity": 0.93, "specificity": 0.96},
    {"name": "sloppy", "count": 4, "sensitivity": 0.75, "specificity": 0.80},
    {"name": "random", "count": 2, "sensitivity": 0.5, "specificity": 0.5},
    {"name": "always-yes", "count": 2, "sensitivity": 1.0, "specificity": 0.0},
]


def manage(env: dict, *args: str) -> None:
    print("$ python manage.py " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clips", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--train-config", type=Path, help="ml.train options (JSON/YAML) for the retrained run")
    parser.add_argument("--database-url", help="default: a temporary SQLite database")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="closed-loop-"))
    env = {**os.environ, "MMIT_VAR_DIR": str(work / "var"),
           "DATABASE_URL": args.database_url or f"sqlite:///{work / 'db.sqlite3'}"}
    env.pop("REDIS_URL", None)  # the rehearsal needs no broker
    (work / "workers.json").write_text(json.dumps(WORKERS))
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "generate_clips", str(work / "world"), "--clips", str(args.clips), "--seed", str(args.seed))
    manage(env, "create_dataset", "world")
    manage(env, "load_vocabulary", str(VOCABULARY), "--dataset", "world")
    manage(env, "import_videos", str(work / "world" / "manifest.csv"), "--dataset", "world", "--trust-labels")
    started = time.monotonic()
    report_path = work / "report.json"
    command = ["simulate_crowd", "--dataset", "world", "--truth", str(work / "world" / "truth.csv"),
               "--workers", str(work / "workers.json"), "--report", str(report_path), "--rounds", str(args.rounds),
               "--concurrency", str(args.concurrency), "--seed", str(args.seed), "--compare-retrain"]
    if args.train_config:
        command += ["--train-config", str(args.train_config)]
    manage(env, *command)
    wall = time.monotonic() - started
    report = json.loads(report_path.read_text())

    print(f"\n{'run':8} {'round':>5} {'precision':>9} {'recall_all':>10} {'model harvest':>13} "
          f"{'micro mAP':>9} {'macro mAP':>9} {'seconds':>8}")
    for name, run in report["runs"].items():
        for r in run["rounds"]:
            harvest = (r["harvest"].get("model") or {}).get("rate")
            model = r.get("model") or {}
            print(f"{name:8} {r['round']:>5} {r['cumulative_precision'] or 0:>9.4f} "
                  f"{r['cumulative_recall_all'] or 0:>10.4f} {'' if harvest is None else f'{harvest:.3f}':>13} "
                  f"{'' if not model else format(model['micro_map'], '.4f'):>9} "
                  f"{'' if not model else format(model['macro_map'], '.4f'):>9} {r['seconds']:>8.1f}")
    retrain = report["runs"]["retrain"]["rounds"]
    retrain_seconds = sum(r["seconds"] for r in retrain)
    reached = [r["round"] for r in retrain
               if (r["cumulative_recall_all"] or 0) >= 0.85 and (r["cumulative_precision"] or 0) >= 0.99]
    harvests = [(r["harvest"].get("model") or {}).get("rate") or 0 for r in retrain]
    maps = [r["model"]["micro_map"] for r in retrain]
    targets = {
        "recall_all>=0.85 at precision>=0.99": (f"round {reached[0]}" if reached else "not reached", bool(reached)),
        "model harvest>=20% in some round": (f"best {max(harvests):.3f}", max(harvests) >= 0.20),
        "micro mAP last > first": (f"{maps[0]:.4f} -> {maps[-1]:.4f}", maps[-1] > maps[0]),
        "retrained run <= 30 min": (f"{retrain_seconds / 60:.1f} min", retrain_seconds <= 1800),
    }
    print(f"\nwall time of both runs: {wall / 60:.1f} min (the retrained run: {retrain_seconds / 60:.1f} min)")
    for name, (value, ok) in targets.items():
        print(f"  {name:40} {value:>24}  {'met' if ok else 'NOT MET'}")
    if args.json:
        args.json.write_text(json.dumps({"report": report, "targets": {k: v[0] for k, v in targets.items()},
                                         "met": {k: v[1] for k, v in targets.items()}, "wall_s": wall}, indent=2))
    print(f"report: {report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
