"""Fixtures shared by the whole suite."""
from __future__ import annotations

from pathlib import Path

import pytest

from backend.videos.synthetic import ACTIONS, generate_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def clip_factory(tmp_path_factory):
    """Generate (and cache for the session) a folder of synthetic clips."""
    cache: dict[tuple, Path] = {}

    def make(n_clips: int, *, corrupt: int = 0, seed: int = 0, size: int = 64) -> Path:
        key = (n_clips, corrupt, seed, size)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"clips{n_clips}_{corrupt}_{seed}")
            generate_dataset(out, n_clips=n_clips, corrupt=corrupt, seed=seed, size=(size, size), fps=8)
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture
def dataset(db):
    from backend.videos.services import dataset_create
    from backend.vocabulary.services import vocabulary_load

    ds = dataset_create(name="synthetic")
    vocabulary_load(dataset=ds, names=list(ACTIONS))
    return ds


@pytest.fixture
def staff_user(db, django_user_model):
    return django_user_model.objects.create_user(
        username="curator", password="curator-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_client(staff_user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def anon_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def engine(dataset, clip_factory, settings, tmp_path):
    """40 clips, 30 asked about `jumping`, 10 gold pairs for it (see tests/annotation/bench.py)."""
    from tests.annotation.bench import build_engine

    return build_engine(dataset, clip_factory, settings, tmp_path)


@pytest.fixture
def make_worker(db):
    from tests.annotation.bench import WorkerClient

    return WorkerClient


@pytest.fixture(autouse=True)
def _isolated_files(settings, tmp_path):
    """Every test writes media, releases, runs and exports under its own temporary folder."""
    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MMIT_REGIONS_EXPORT_DIR = tmp_path / "var" / "exports" / "regions"


@pytest.fixture
def sent_tasks(monkeypatch):
    """The tasks the code enqueues, as ``(name, args, kwargs)``, recorded instead of sent to a broker
    (at the moment they would be sent: when the transaction commits)."""
    sent: list[tuple[str, tuple, dict]] = []
    monkeypatch.setattr("backend.common.background.task_send",
                        lambda name, args=(), kwargs=None: sent.append((name, tuple(args), dict(kwargs or {}))))
    return sent


@pytest.fixture
def eager_tasks(settings):
    """Enqueued tasks run here, at once (``CELERY_TASK_ALWAYS_EAGER``), as do the workers' own
    ``.delay()`` calls."""
    from workers.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False
