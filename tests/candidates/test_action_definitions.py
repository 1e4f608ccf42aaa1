"""Definitions shown to annotators (issue 18, item 8): by default written from the WordNet glosses
of an action's synsets and marked as generated; a curator's definition is never overwritten, and
a curator's edit (API or admin) clears the mark."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from backend.candidates.services import action_definitions_generate, action_synsets_guess
from backend.vocabulary import glosses
from backend.vocabulary.models import Action, VocabularyEvent
from backend.vocabulary.services import (
    DEFINITION_MAX_LENGTH,
    action_add,
    action_definitions_fill,
    action_update,
    definition_from_glosses,
)

pytestmark = pytest.mark.django_db

RUN = "Move fast by using one's feet, with one foot off the ground at any given time"
JUMP = "Move forward by leaps and bounds"


def _action(dataset, name) -> Action:
    return Action.objects.get(dataset=dataset, name=name)


def test_definition_from_glosses_joins_distinct_glosses_and_trims():
    assert definition_from_glosses(["move fast", "move fast.", "", "  run a race; "]) == "Move fast; run a race"
    assert definition_from_glosses([]) == ""
    long = definition_from_glosses(["word " * 200])
    assert len(long) <= DEFINITION_MAX_LENGTH and long.endswith("word…")


def test_curated_synsets_give_the_join_of_their_glosses(chain):
    running = _action(chain, "running")
    action_update(action=running, synsets=["run.v.01", "jump.v.01"])
    running.refresh_from_db()
    assert running.definition == f"{RUN}; {JUMP[0].lower()}{JUMP[1:]}"
    assert running.definition_generated and running.synsets_curated


def test_a_guess_gives_the_gloss_of_its_best_sense_only(chain):
    action_synsets_guess(dataset=chain)  # guesses synsets, and fills the empty definitions
    jumping = _action(chain, "jumping")
    assert jumping.synsets == ["jump.v.01", "jump.v.03", "startle.v.02"] and not jumping.synsets_curated
    assert (jumping.definition, jumping.definition_generated) == (JUMP, True)
    assert _action(chain, "running").definition == RUN
    event = VocabularyEvent.objects.filter(details__has_key="generated_definitions").get()
    assert {"jumping", "running"} <= set(event.details["generated_definitions"])


def test_a_curators_definition_is_never_overwritten(chain, staff_user):
    running = _action(chain, "running")
    action_update(action=running, definition="Moving quickly on foot.", actor=staff_user)
    assert action_definitions_generate(dataset=chain, overwrite_generated=True)  # the others are filled
    running.refresh_from_db()
    assert (running.definition, running.definition_generated) == ("Moving quickly on foot.", False)
    action_update(action=running, synsets=["jump.v.01"])  # new senses leave a curator's text alone
    running.refresh_from_db()
    assert running.definition == "Moving quickly on foot."


def test_new_synsets_rewrite_a_generated_definition_and_an_edit_clears_the_mark(chain):
    running = _action(chain, "running")
    action_update(action=running, synsets=["run.v.01"])
    action_update(action=running, synsets=["jump.v.01"])
    running.refresh_from_db()
    assert (running.definition, running.definition_generated) == (JUMP, True)
    action_update(action=running, synsets=[])  # no senses left: the generated text goes with them
    running.refresh_from_db()
    assert (running.definition, running.definition_generated) == ("", False)
    action_update(action=running, synsets=["run.v.01"])
    action_update(action=running, definition=running.definition + " Refined.")
    running.refresh_from_db()
    assert (running.definition, running.definition_generated) == (RUN + " Refined.", False)


def test_overwrite_generated_refreshes_only_generated_definitions(chain):
    running, jumping = _action(chain, "running"), _action(chain, "jumping")
    Action.objects.filter(pk=running.pk).update(synsets=["run.v.01"], synsets_curated=True,
                                                definition="stale gloss", definition_generated=True)
    Action.objects.filter(pk=jumping.pk).update(synsets=["jump.v.01"], synsets_curated=True,
                                                definition="A curator's words", definition_generated=False)
    assert action_definitions_fill(actions=Action.objects.filter(pk__in=[running.pk, jumping.pk])) == []
    assert action_definitions_fill(actions=Action.objects.filter(pk__in=[running.pk, jumping.pk]),
                                   overwrite_generated=True) == ["running"]
    running.refresh_from_db()
    jumping.refresh_from_db()
    assert running.definition == RUN and jumping.definition == "A curator's words"


def test_an_unknown_synset_writes_nothing(chain):
    running = _action(chain, "running")
    action_update(action=running, synsets=["nosuchverb.v.07"])
    running.refresh_from_db()
    assert (running.definition, running.definition_generated) == ("", False)


def test_adding_an_action_with_synsets_fills_its_definition_and_missing_wordnet_is_not_an_error(
        chain, monkeypatch):
    added = action_add(dataset=chain, name="leaping", synsets=["jump.v.01"])
    assert (added.definition, added.definition_generated, added.synsets_curated) == (JUMP, True, True)

    def missing(_ids):
        raise glosses.DomainError("WordNet 3.0 is not available")

    monkeypatch.setattr(glosses, "_provider", missing)
    later = action_add(dataset=chain, name="hopping", synsets=["hop.v.01"])
    assert later.pk and (later.definition, later.definition_generated) == ("", False)


def test_the_api_exposes_the_mark_and_a_patch_of_the_definition_clears_it(chain, staff_client):
    created = staff_client.post("/api/datasets/chain/actions/", {"name": "bounding", "synsets": ["jump.v.01"]},
                                format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["definition"], body["definition_generated"], body["synsets_curated"]) == (JUMP, True, True)
    patched = staff_client.patch(f"/api/datasets/chain/actions/{body['id']}/", {"definition": "Springing forward."},
                                 format="json")
    assert patched.status_code == 200
    assert (patched.json()["definition"], patched.json()["definition_generated"]) == ("Springing forward.", False)


def test_an_admin_edit_of_the_definition_clears_the_mark(chain, client, staff_user):
    running = _action(chain, "running")
    action_update(action=running, synsets=["run.v.01"])
    client.force_login(staff_user)
    url = f"/admin/vocabulary/action/{running.pk}/change/"
    form = {"dataset": chain.pk, "name": "running", "display_name": "running", "definition": "Running, by a curator.",
            "synonyms": "[]", "synsets": '["run.v.01"]', "synsets_curated": "on"}
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    running.refresh_from_db()
    assert (running.definition, running.definition_generated) == ("Running, by a curator.", False)


def test_fill_definitions_command(chain, capsys):
    _action(chain, "cooking").__class__.objects.filter(dataset=chain, name="cooking").update(
        definition="Cooking, as the curators wrote it")
    call_command("fill_definitions", "--vocabulary", "chain")
    out = capsys.readouterr().out
    assert out.startswith("chain: ") and "definitions written" in out
    assert _action(chain, "running").definition == RUN
    assert _action(chain, "cooking").definition == "Cooking, as the curators wrote it"
    Action.objects.filter(dataset=chain, name="running").update(definition="old generated text")
    call_command("fill_definitions", "--vocabulary", "chain", "--overwrite-generated")
    assert "chain: 1 definitions written (running)." in capsys.readouterr().out
    assert _action(chain, "running").definition == RUN


def test_fill_definitions_names_an_unknown_dataset(chain):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown dataset 'nope'"):
        call_command("fill_definitions", "--vocabulary", "nope")
