"""Management commands: related_actions (the issue's "Done means"), candidate_round, ingest_predictions."""
from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backend.candidates.neighbours import UNKNOWN_ACTION
from backend.candidates.models import CandidateRound
from backend.candidates.policy import HARVEST_THRESHOLD_OUT_OF_RANGE
from backend.labels.models import Label
from tests.candidates.conftest import make_videos, verify


def run(*args) -> str:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def listed(output: str) -> dict[str, str]:
    return dict(re.findall(r"^  (\S+)\s+((?:distance|similarity) [\d.]+)$", output, flags=re.M))


@pytest.mark.parametrize(("action", "expected"), [
    ("running", {"sprinting", "racing", "jogging"}),
    ("applauding", {"clapping", "cheering"}),
    ("cooking", {"frying", "baking", "grilling"}),
])
def test_related_actions_wordnet_on_the_shipped_vocabulary(action, expected):
    output = run("related_actions", action, "--source", "wordnet", "--limit", "5")
    assert "the shipped 292-action vocabulary" in output
    found = listed(output)
    assert expected <= set(found) and len(found) <= 5
    assert all(found[name] in ("distance 0", "distance 1") for name in expected)


def test_related_actions_word2vec_uses_the_default_vectors():
    output = run("related_actions", "applauding", "--source", "word2vec")
    found = listed(output)
    assert {"clapping", "cheering"} <= set(found)
    assert all(0.6 <= float(value.split()[1]) <= 1 for value in found.values())


def test_related_actions_in_a_dataset_uses_its_vocabulary_and_senses(chain):
    output = run("related_actions", "running", "--source", "wordnet", "--dataset", "chain", "--distance", "2")
    assert "dataset 'chain'" in output and "run.v.01" in output
    assert listed(output) == {"jogging": "distance 1", "racing": "distance 1", "sprinting": "distance 1",
                              "competing": "distance 2"}


@pytest.mark.parametrize(("args", "message"), [
    (["moonwalking", "--source", "wordnet"],
     UNKNOWN_ACTION.format(action="moonwalking", where="the shipped 292-action vocabulary")),
    (["running", "--source", "word2vec", "--threshold", "1.5"],
     "The Word2Vec similarity threshold must be a cosine similarity between -1 and 1, got 1.5."),
])
def test_related_actions_bad_input(args, message):
    with pytest.raises(CommandError) as error:
        run("related_actions", *args)
    assert str(error.value) == message


def test_candidate_round_command(chain):
    verify(chain, make_videos(chain, 12), "running")
    output = run("candidate_round", "--dataset", "chain", "--sources", "wordnet", "--cap", "3", "--no-progress")
    assert output.startswith("Round 1 of chain: 36 candidates proposed")
    assert re.search(r"wordnet\s+active, distance 1: 36 pilot \+ 0 roll-out; harvest so far - \(0/0 decided\)", output)
    assert CandidateRound.objects.get().number == 1


def test_candidate_round_command_bad_input(chain):
    with pytest.raises(CommandError) as error:
        run("candidate_round", "--dataset", "chain", "--threshold", "2")
    assert str(error.value) == HARVEST_THRESHOLD_OUT_OF_RANGE.format(value=2.0)
    with pytest.raises(CommandError, match="Unknown dataset 'nope'"):
        run("candidate_round", "--dataset", "nope")
    assert not CandidateRound.objects.exists()


def test_ingest_predictions_command_feeds_the_model_source(chain, tmp_path):
    videos = make_videos(chain, 3)
    path = tmp_path / "predictions.csv"
    path.write_text("path,rank,action,score\n" + "".join(f"{v.storage_key},1,cooking,0.5\n" for v in videos))
    assert run("ingest_predictions", str(path), "--dataset", "chain").startswith("3 predictions of 3 videos")
    run("candidate_round", "--dataset", "chain", "--sources", "model", "--no-progress")
    assert Label.objects.filter(source="model", action__name="cooking").count() == 3
