"""Deployment: production settings pass `check --deploy`, docker-compose names real commands,
the environment switches database/broker/storage, and `manage.py demo` serves a site from nothing."""
from __future__ import annotations

import importlib
import json
import os
import socket
import subprocess
import sys
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from tests.helpers import BIN, REPO, free_port, stop, wait_for

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _run(args, env_extra, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(env_extra)
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, **kw)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = _run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {"DJANGO_SETTINGS_MODULE": "backend.config.settings_production",
         "DJANGO_SECRET_KEY": "k" * 20 + "Q9x!vZ2#pL7@wE4$rT6^yU8&iO0*aS3(dF5)gH1_jK",
         "DJANGO_ALLOWED_HOSTS": "labels.example.org", "MMIT_VAR_DIR": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret(tmp_path):
    result = _run([sys.executable, "manage.py", "check"],
                  {"DJANGO_SETTINGS_MODULE": "backend.config.settings_production", "MMIT_VAR_DIR": str(tmp_path)},
                  timeout=120)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_environment_selects_database_broker_and_storage(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME']);"
        "print(s.CELERY_BROKER_URL); print(s.STORAGES['default']['BACKEND']);"
        "print(s.DATABASES['default']['CONN_MAX_AGE'], s.DATABASES['default']['CONN_HEALTH_CHECKS'],"
        " s.DATABASE_PREPARED_STATEMENTS)"
    )
    default = _run([sys.executable, "-c", f"import django; django.setup(); {code}"],
                   {"DJANGO_SETTINGS_MODULE": "backend.config.settings", "MMIT_VAR_DIR": str(tmp_path)},
                   timeout=60).stdout.split("\n")
    assert default[0] == f"django.db.backends.sqlite3 {tmp_path / 'db.sqlite3'}"
    assert default[1] == "filesystem://" and default[2].endswith("FileSystemStorage")
    assert default[3] == "0 False True"  # SQLite: a connection per request
    real = _run([sys.executable, "-c", f"import django; django.setup(); {code}"],
                {"DJANGO_SETTINGS_MODULE": "backend.config.settings", "MMIT_VAR_DIR": str(tmp_path),
                 "DATABASE_URL": "postgres://u:p@db:5432/mmit", "REDIS_URL": "redis://cache:6379/0",
                 "AWS_STORAGE_BUCKET_NAME": "clips"}, timeout=60).stdout.split("\n")
    assert real[0] == "django.db.backends.postgresql mmit"
    assert real[1] == "redis://cache:6379/0" and real[2] == "storages.backends.s3.S3Storage"
    assert real[3] == "60 False True"  # PostgreSQL: connections kept a minute, statements prepared
    tuned = _run([sys.executable, "-c", f"import django; django.setup(); {code}"],
                 {"DJANGO_SETTINGS_MODULE": "backend.config.settings", "MMIT_VAR_DIR": str(tmp_path),
                  "DATABASE_URL": "postgres://u:p@db:5432/mmit", "DATABASE_CONN_MAX_AGE": "0",
                  "DATABASE_CONN_HEALTH_CHECKS": "1", "DATABASE_PREPARED_STATEMENTS": "0"},
                 timeout=60).stdout.split("\n")
    assert tuned[3] == "0 True False"  # e.g. behind PgBouncer in transaction mode


def _command_exists(cmd: list[str]) -> None:
    """Check that what a compose service runs exists in this project."""
    if cmd[:2] == ["sh", "-c"]:
        for part in cmd[2].split("&&"):
            _command_exists(part.split())
        return
    program = cmd[0]
    if program == "python" and cmd[1] == "manage.py":
        assert cmd[2] in get_commands(), f"manage.py {cmd[2]} does not exist"
    elif program == "gunicorn":
        module, _, attr = cmd[1].partition(":")
        assert hasattr(importlib.import_module(module), attr or "application")
    elif program == "celery":
        assert cmd[1] == "-A"
        from celery.app.utils import find_app

        app = find_app(cmd[2])  # as `celery -A` finds it
        sub = cmd[3]
        assert sub in ("worker", "beat", "inspect")
        if "-Q" in cmd:
            queues = {q.name for q in app.conf.task_queues}
            assert set(cmd[cmd.index("-Q") + 1].split(",")) <= queues
        if "--scheduler" in cmd:
            module, _, cls = cmd[cmd.index("--scheduler") + 1].partition(":")
            assert hasattr(importlib.import_module(module), cls)
    elif program in ("redis-server", "pg_isready", "redis-cli", "curl"):
        pass  # provided by the service images
    else:
        raise AssertionError(f"unknown program in docker-compose: {cmd}")
    assert (BIN / program).exists() or program in ("python", "redis-server", "pg_isready", "redis-cli", "curl")


def test_compose_services_commands_and_healthchecks():
    services = COMPOSE["services"]
    assert set(services) >= {"postgres", "redis", "web", "worker", "beat", "ml"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        if "command" in service:
            _command_exists(service["command"])
        _command_exists(service["healthcheck"]["test"][1:])
    assert services["ml"]["command"][services["ml"]["command"].index("-Q") + 1] == "ml"
    gpu = services["ml"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
    for volume in ("pgdata", "media"):
        assert volume in COMPOSE["volumes"]
    env = services["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
    assert env["DJANGO_SETTINGS_MODULE"] == "backend.config.settings_production"
    assert (REPO / "Dockerfile").exists()


@pytest.mark.slow
def test_demo_serves_a_working_site_from_nothing(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(MMIT_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1")
    log = tmp_path / "demo.log"
    proc = subprocess.Popen([sys.executable, "manage.py", "demo", "--port", str(port), "--clips", "30", "--rounds", "2"],
                            cwd=REPO, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy():
            try:
                with urllib.request.urlopen(f"{base}/api/health/", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for(healthy, timeout=180, interval=1, message="the demo's health endpoint")
        text = log.read_text()
        password = text.split("curator login : curator / ")[1].split()[0]
        assert f"{base}/admin/" in text and f"{base}/api/docs/" in text
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{base}/admin/login/").read().decode()
        token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        data = urllib.parse.urlencode({"username": "curator", "password": password,
                                       "csrfmiddlewaretoken": token, "next": "/admin/"}).encode()
        opener.open(urllib.request.Request(f"{base}/admin/login/", data=data, headers={"Referer": base}))
        videos = opener.open(f"{base}/api/datasets/demo/videos/?status=ok").read().decode()
        assert '"count":30' in videos
        # the simulated crowd brought the demo to life: answers, verified labels, blocked spammers
        report = json.loads((tmp_path / "var" / "demo-simulation.json").read_text())
        total = report["runs"]["majority"]["total"]
        assert total["answers"] > 0 and total["verified_positive"] > 0
        assert total["workers"]["random"]["blocked"] + total["workers"]["always-yes"]["blocked"] > 0
        annotator = text.split("annotator link: ")[1].split()[0]
        assert annotator.startswith(f"{base}/annotate/demo/?w=")
        assert "annotate.js" in opener.open(annotator).read().decode()
        assert "Swagger" in opener.open(f"{base}/api/docs/").read().decode()
        css = opener.open(f"{base}/static/admin/css/base.css")
        assert css.status == 200
        assert opener.open(f"{base}/").url == f"{base}/dashboard/"  # the front door: the dashboard
    finally:
        stop(proc)
    assert (tmp_path / "var" / "db.sqlite3").exists() and (tmp_path / "var" / "broker").is_dir()
    # later commands print links to the port the demo served on
    link = _run([sys.executable, "manage.py", "worker_link", "bob", "--dataset", "demo"], env, timeout=120)
    assert link.returncode == 0 and link.stdout.strip().startswith(f"{base}/annotate/demo/?w="), link.stderr
    # a second demo keeps the curator's password (and says it is the one that works)
    again = _run([sys.executable, "manage.py", "demo", "--port", str(port), "--setup-only", "--no-simulate"], env,
                 timeout=300)
    assert again.returncode == 0 and f"curator login : curator / {password}\n" in again.stdout, again.stderr


def test_demo_on_a_busy_port_stops_before_anything_with_a_clear_message(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _run([sys.executable, "manage.py", "demo", "--port", str(port)], {"MMIT_VAR_DIR": str(tmp_path)},
                    timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and done.stdout == "" and len(lines) == 1, done.stdout + done.stderr
    assert f"Port {port} on 127.0.0.1 is already in use" in lines[0] and "make demo PORT=" in lines[0]
    assert not (tmp_path / "imports").exists()  # nothing was generated, imported or simulated


def test_make_demo_takes_the_port():
    dry = subprocess.run(["make", "-n", "demo", "PORT=8123"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0 and "manage.py demo --port 8123" in dry.stdout
