"""`make demo`: set up a demo platform from nothing and run it (web server + Celery worker)."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from backend.common.commands import PlatformCommand
from backend.videos.models import Dataset, Video
from backend.videos.services import dataset_create, video_import
from backend.videos.synthetic import generate_dataset
from backend.vocabulary.names import read_vocabulary_file
from backend.vocabulary.services import vocabulary_load

VOCABULARY = Path(__file__).resolve().parents[3] / "vocabulary" / "data" / "mmit_v2_292.txt"
WORKERS = Path(__file__).resolve().parents[2] / "examples" / "workers.json"


class Command(PlatformCommand):
    help = "Create a curator, a demo dataset of synthetic clips, and run the web server and a Celery worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--clips", type=int, default=200)
        parser.add_argument("--dataset", default="demo")
        parser.add_argument("--setup-only", action="store_true", help="Prepare everything, start nothing.")
        parser.add_argument("--rounds", type=int, default=3, help="Simulated annotation rounds on a new demo.")
        parser.add_argument("--no-simulate", action="store_true", help="Skip the simulated crowd campaign.")

    def handle(self, *args, **opts):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        username, password = self._curator()
        dataset = self._dataset(opts["dataset"], opts["clips"])
        if not opts["no_simulate"]:
            self._simulate(dataset, opts["rounds"])
        base = f"http://{opts['host']}:{opts['port']}"
        from backend.crowd.links import worker_link_url
        from backend.crowd.services import worker_get_or_create

        annotator = worker_get_or_create(provider="inhouse", external_id="demo-annotator")
        lines = [
            "",
            "Multi-Moments platform demo",
            f"  curator login : {username} / {password}",
            f"  dataset       : {dataset.name} ({Video.objects.filter(dataset=dataset, status='ok').count()} videos)",
            f"  admin         : {base}/admin/",
            f"  API docs      : {base}/api/docs/",
            f"  API schema    : {base}/api/schema/",
            f"  health        : {base}/api/health/",
            f"  annotator link: {worker_link_url(worker=annotator, dataset_name=dataset.name).replace(settings.SITE_URL.rstrip('/'), base)}",
        ]
        self.stdout.write("\n".join(lines) + "\n")
        if opts["setup_only"]:
            return
        self._serve(opts["host"], opts["port"])

    def _curator(self) -> tuple[str, str]:
        User = get_user_model()
        username = "curator"
        password = secrets.token_urlsafe(9)
        user, _ = User.objects.get_or_create(username=username, defaults={"email": "curator@example.org"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return username, password

    def _dataset(self, name: str, clips: int) -> Dataset:
        dataset = Dataset.objects.filter(name=name).first() or dataset_create(
            name=name, description="Synthetic clips of procedural actions (the demo dataset)."
        )
        vocabulary_load(dataset=dataset, names=read_vocabulary_file(VOCABULARY), origin=str(VOCABULARY))
        folder = settings.VAR_DIR / "imports" / name
        if not (folder / "manifest.csv").exists():
            self.stdout.write(f"Generating {clips} synthetic clips in {folder} ...")
            with self.progress_bar(desc="clips", unit="clip") as progress:
                generate_dataset(folder, n_clips=clips, corrupt=3, seed=7, progress=progress)
        with self.progress_bar(desc="import", unit="file") as progress:
            report = video_import(dataset=dataset, source=str(folder / "manifest.csv"), progress=progress)
        video_import(dataset=dataset, source=str(folder))  # the corrupt files show up as quarantined
        if report.imported:
            self.stdout.write(f"Imported {report.imported} videos with {report.labels_added} initial labels.")
        return dataset

    def _simulate(self, dataset: Dataset, rounds: int) -> None:
        """Bring a new demo to a living state: several rounds of simulated annotators (some of
        them spammers, who get blocked) working through the real API."""
        from backend.annotation.models import Answer

        if Answer.objects.filter(question__dataset=dataset).exists():
            return
        folder = settings.VAR_DIR / "imports" / dataset.name
        call_command("simulate_crowd", dataset=dataset.name, truth=folder / "truth.csv",
                     workers=WORKERS, report=settings.VAR_DIR / "demo-simulation.json", rounds=rounds,
                     concurrency=4, seed=7)

    def _serve(self, host: str, port: int) -> None:
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        procs = [
            subprocess.Popen([str(bin_dir / "gunicorn"), "backend.config.wsgi:application", "--bind",
                              f"{host}:{port}", "--workers", "2", "--timeout", "120"], env=env),
            subprocess.Popen([str(bin_dir / "celery"), "-A", "workers", "worker", "-Q", "default,ml",
                              "--concurrency", "1", "--loglevel", "INFO"], env=env),
        ]
        self.stdout.write("Web server and Celery worker running; Ctrl-C stops both.")

        def stop(*_):
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()

        signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
