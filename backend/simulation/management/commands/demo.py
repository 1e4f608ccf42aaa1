"""`make demo`: set up a demo platform from nothing and run it (web server + Celery worker)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from backend.common.commands import PlatformCommand
from backend.crowd.links import worker_link_url
from backend.crowd.services import worker_get_or_create
from backend.simulation.demo import demo_curator_ensure, demo_questions_ensure
from backend.simulation.truth import load_truth
from backend.videos.models import Dataset, Video
from backend.videos.services import dataset_create, video_import
from backend.videos.synthetic import generate_dataset
from backend.vocabulary.names import read_vocabulary_file
from backend.vocabulary.services import vocabulary_load

VOCABULARY = Path(__file__).resolve().parents[3] / "vocabulary" / "data" / "mmit_v2_292.txt"
WORKERS = Path(__file__).resolve().parents[2] / "examples" / "workers.json"
ANNOTATOR = "demo-annotator"
SITE_URL_FILE = "site-url"  # read back by the settings (SITE_URL) when MMIT_SITE_URL is unset
PORT_BUSY = ("Port {port} on {host} is already in use (another demo or server is running there). Stop it, or "
             "run the demo on another port: make demo PORT={free}")
SERVER_STOPPED = "The {what} stopped (exit code {code}); its messages are above."


def port_free(host: str, port: int) -> bool:
    """Whether a server can listen on (host, port) now."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class Command(PlatformCommand):
    help = ("Create a curator, a demo dataset of synthetic clips brought to life by a simulated crowd, fresh "
            "questions for you, and run the web server and a Celery worker (make demo PORT=8123 picks the port).")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to serve on (default: %(default)s).")
        parser.add_argument("--port", type=int, default=8000, help="Port to serve on (default: %(default)s).")
        parser.add_argument("--clips", type=int, default=200, help="Synthetic clips of a new demo (default: %(default)s).")
        parser.add_argument("--dataset", default="demo", help="Dataset name (default: %(default)s).")
        parser.add_argument("--setup-only", action="store_true", help="Prepare everything, start nothing.")
        parser.add_argument("--rounds", type=int, default=3,
                            help="Simulated annotation rounds on a new demo (default: %(default)s).")
        parser.add_argument("--no-simulate", action="store_true", help="Skip the simulated crowd campaign.")

    def handle(self, *args, **opts):
        host, port = opts["host"], opts["port"]
        if not opts["setup_only"] and not port_free(host, port):
            free = next((p for p in range(port + 1, port + 100) if port_free(host, p)), 8123)
            raise CommandError(PORT_BUSY.format(host=host, port=port, free=free))
        base = f"http://{host}:{port}"
        if "MMIT_SITE_URL" not in os.environ:
            # links made here, by the servers started below and by later commands (worker_link,
            # which read it back through the settings) use the address in use
            os.environ["MMIT_SITE_URL"] = settings.SITE_URL = base
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            (settings.VAR_DIR / SITE_URL_FILE).write_text(base + "\n")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        curator = demo_curator_ensure(var_dir=settings.VAR_DIR)
        dataset, folder = self._dataset(opts["dataset"], opts["clips"])
        if not opts["no_simulate"]:
            self._simulate(dataset, folder, opts["rounds"])
        annotator = worker_get_or_create(provider="inhouse", external_id=ANNOTATOR)
        queued = demo_questions_ensure(dataset=dataset, truth=load_truth(folder / "truth.csv"), annotator=annotator)
        if queued:
            self.stdout.write(f"Queued {queued} fresh questions for the annotator link below.")
        site = settings.SITE_URL.rstrip("/")
        password = curator.password or ("unchanged (you changed it; `python manage.py changepassword curator` "
                                        "sets a new one)")
        lines = [
            "",
            "Multi-Moments platform demo",
            f"  dashboard     : {site}/dashboard/",
            f"  curator login : {curator.username} / {password}",
            f"  annotator link: {worker_link_url(worker=annotator, dataset_name=dataset.name)}",
            f"  admin         : {site}/admin/",
            f"  API docs      : {site}/api/docs/",
            f"  API schema    : {site}/api/schema/",
            f"  health        : {site}/api/health/",
            f"  dataset       : {dataset.name} "
            f"({Video.objects.filter(dataset=dataset, status=Video.Status.OK).count()} videos)",
            "",
            "Try first: open the annotator link and answer its clips (y / n, space replays, Enter submits); then",
            f"sign in to the dashboard as {curator.username} and find your answers under Workers -> {ANNOTATOR}.",
            "",
        ]
        self.stdout.write("\n".join(lines))
        if opts["setup_only"]:
            return
        self._serve(host, port)

    def _dataset(self, name: str, clips: int) -> tuple[Dataset, Path]:
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
        return dataset, folder

    def _simulate(self, dataset: Dataset, folder: Path, rounds: int) -> None:
        """Bring a new demo to a living state: several rounds of simulated annotators (some of
        them spammers, who get blocked) working through the real API."""
        from backend.annotation.models import Answer

        if Answer.objects.filter(question__dataset=dataset).exists():
            return
        call_command("simulate_crowd", dataset=dataset.name, truth=folder / "truth.csv",
                     workers=WORKERS, report=settings.VAR_DIR / "demo-simulation.json", rounds=rounds,
                     concurrency=4, seed=7)

    def _serve(self, host: str, port: int) -> None:
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        procs = {
            "web server": subprocess.Popen([str(bin_dir / "gunicorn"), "backend.config.wsgi:application", "--bind",
                                            f"{host}:{port}", "--workers", "2", "--timeout", "120"], env=env),
            "Celery worker": subprocess.Popen([str(bin_dir / "celery"), "-A", "workers", "worker", "-Q", "default,ml",
                                               "--concurrency", "1", "--loglevel", "INFO"], env=env),
        }
        self.stdout.write("Web server and Celery worker running; Ctrl-C stops both.")

        def stop(*_):
            for p in procs.values():
                if p.poll() is None:
                    p.terminate()
            for p in procs.values():
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()

        signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
        interrupted = False
        try:
            while all(p.poll() is None for p in procs.values()):
                time.sleep(1)
        except KeyboardInterrupt:
            interrupted = True
        died = [] if interrupted else [(what, p.returncode) for what, p in procs.items() if p.poll() is not None]
        stop()
        if died:  # one of them stopped on its own (a port taken meanwhile, a crash): say so, and fail
            what, code = died[0]
            raise CommandError(SERVER_STOPPED.format(what=what, code=code))
