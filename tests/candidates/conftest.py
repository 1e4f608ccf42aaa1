"""Fixtures for candidate rounds: a small vocabulary with known WordNet relations, videos, a crowd stand-in.

WordNet and the vectors load once per process (``backend.candidates.neighbours`` caches them);
pointing every test at one session cache directory keeps it that way.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pytest

from backend.labels.models import Label
from backend.videos.models import Video
from backend.vocabulary.models import Action

# Real names with real WordNet neighbours (guessed senses, node distance 1 unless said):
# running -> jogging, racing, sprinting; racing -> competing, running; running -> competing (2);
# applauding -> clapping (0), cheering; cooking -> baking, frying.
CHAIN_ACTIONS = (
    "running", "sprinting", "jogging", "racing", "competing", "jumping",
    "cheering", "clapping", "applauding", "cooking", "frying", "baking",
)


@pytest.fixture(scope="session")
def candidates_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("candidates-cache")


@pytest.fixture(autouse=True)
def _lexical_settings(settings, candidates_cache):
    settings.MMIT_CACHE_DIR = candidates_cache
    settings.MMIT_VECTORS_PATH = None


@pytest.fixture(scope="session")
def tiny_vectors_path(tmp_path_factory):
    """A word2vec text file where running~jumping~cheering and cooking~frying are close."""
    words = {
        "running": [1.0, 0.0, 0.0, 0.0], "jumping": [0.9, 0.3, 0.0, 0.0], "cheering": [0.5, 0.8, 0.0, 0.0],
        "clapping": [0.3, 0.95, 0.0, 0.0], "cooking": [0.0, 0.0, 1.0, 0.0], "frying": [0.0, 0.0, 0.9, 0.3],
        "sprinting": [0.0, 0.0, 0.0, 1.0], "racing": [0.1, 0.0, 0.1, 0.9],
    }
    path = tmp_path_factory.mktemp("vectors") / "tiny.txt"
    lines = [f"{len(words)} 4"] + [f"{w} " + " ".join(f"{x:.3f}" for x in v) for w, v in words.items()]
    path.write_text("\n".join(lines) + "\n")
    assert np.isfinite(list(words.values())).all()
    return path


@pytest.fixture
def chain(db):
    from backend.videos.services import dataset_create
    from backend.vocabulary.services import vocabulary_load

    dataset = dataset_create(name="chain")
    vocabulary_load(dataset=dataset, names=list(CHAIN_ACTIONS))
    return dataset


def make_videos(dataset, count: int, *, split: str = "train", start: int = 0) -> list[Video]:
    Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/clips/{dataset.name}/{i:05d}.mp4", name=f"{i:05d}.mp4",
              storage_key=f"videos/{dataset.name}/{i:05d}.mp4", split=split)
        for i in range(start, start + count)
    ])
    return list(Video.objects.filter(dataset=dataset).order_by("id"))[start:start + count]


def action(dataset, name: str) -> Action:
    return Action.objects.get(dataset=dataset, name=name)


def verify(dataset, videos: Iterable[Video], name: str, *, source: str = Label.Source.INITIAL) -> None:
    """Verified labels, as if the crowd had said Yes to an initial label."""
    a = action(dataset, name)
    Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=a, asked_action=a, source=source, state=Label.State.POSITIVE)
        for v in videos
    ])


def decide(dataset, yes: Callable[[Label], bool], *, round_number: int | None = None) -> int:
    """The crowd stand-in: every pending proposal becomes positive when ``yes(label)``, else negative."""
    labels = Label.objects.filter(dataset=dataset, state=Label.State.PENDING).exclude(source=Label.Source.INITIAL)
    if round_number is not None:
        labels = labels.filter(round=round_number)
    labels = list(labels.select_related("action", "video"))
    for label in labels:
        label.state = Label.State.POSITIVE if yes(label) else Label.State.NEGATIVE
    Label.objects.bulk_update(labels, ["state"])
    return len(labels)


def proposals(dataset, **filters) -> list[tuple[str, str]]:
    """(video name, action name) of the candidate labels matching ``filters``, sorted."""
    rows = Label.objects.filter(dataset=dataset, round__gt=0, **filters).values_list("video__name", "action__name")
    return sorted(rows)
