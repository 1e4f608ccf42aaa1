"""Vocabulary services, the audit trail, and the MiT -> M-MiT migration of Fig. 4."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backend.common.errors import Conflict, DomainError
from backend.labels.models import Label
from backend.videos.models import Video
from backend.videos.services import dataset_create
from backend.vocabulary import services
from backend.vocabulary.models import Action, VocabularyEvent
from backend.vocabulary.names import INVALID_ACTION_NAME, read_vocabulary_file
from backend.vocabulary.selectors import action_lookup

pytestmark = pytest.mark.django_db
DATA = Path(__file__).resolve().parents[2] / "backend" / "vocabulary" / "data"

# Fig. 4 of the paper, as far as the published class lists bear it out (see the note in
# test_fig4_migration: laughing/giggling needs an explicit merge).
FIG4_COMBINED = {
    "stroking/petting", "smiling/grinning", "stacking/piling", "breaking/destroying", "filming/photographing",
    "cleaning/washing", "constructing/assembling", "ascending/rising", "combusting/burning",
    "descending/lowering", "teaching/instructing", "rotating/spinning", "shoveling/digging", "eating/feeding",
    "tearing/ripping", "smelling/sniffing", "hitting/colliding", "buying/selling/shopping",
    "snuggling/cuddling/hugging",
}
FIG4_ADDED = {
    "paddling", "waxing", "inserting", "ironing", "weightlifting", "scooping", "unplugging", "ice+skating",
    "parading", "erasing", "rubbing", "approaching", "squeezing", "laying", "massaging", "snowboarding",
    "sculpting", "bandaging", "kayaking", "skateboarding", "punting", "shivering", "sleeping", "smashing",
    "texting", "dialing", "flossing", "gasping",
}
FIG4_REMOVED = {
    "coaching", "serving", "exiting", "imitating", "boarding", "sketching", "blocking", "drenching", "flicking",
    "paying", "cramming", "bouncing", "stopping", "putting", "tickling", "guarding", "working", "talking",
    "joining", "building", "asking", "entering", "raising", "leaning", "starting", "placing", "watering",
    "playing",
}


def _video(dataset, name):
    return Video.objects.create(dataset=dataset, source=f"/x/{name}", name=name, checksum=name)


def _label(video, action, state=Label.State.PENDING):
    return Label.objects.create(dataset=video.dataset, video=video, action=action, asked_action=action,
                                source=Label.Source.INITIAL, state=state)


@pytest.fixture
def ds(db):
    return dataset_create(name="vocab")


def test_add_rename_remove_with_audit(ds, staff_user):
    running = services.action_add(dataset=ds, name="running", actor=staff_user)
    assert running.display_name == "running"
    skating = services.action_add(dataset=ds, name="ice+skating")
    assert skating.display_name == "ice skating"
    with pytest.raises(Conflict) as err:
        services.action_add(dataset=ds, name="running")
    assert err.value.message == services.DUPLICATE_ACTION.format(name="running", dataset="vocab")
    with pytest.raises(DomainError) as err:
        services.action_add(dataset=ds, name="a;b")
    assert err.value.message == INVALID_ACTION_NAME.format(name="a;b")
    services.action_rename(action=running, new_name="jogging", actor=staff_user)
    with pytest.raises(Conflict):
        services.action_rename(action=skating, new_name="jogging")
    services.action_remove(action=skating, reason="too rare", actor=staff_user)
    skating.refresh_from_db()
    assert skating.status == Action.Status.REMOVED and Action.objects.filter(pk=skating.pk).exists()
    kinds = list(VocabularyEvent.objects.filter(dataset=ds).order_by("id").values_list("kind", flat=True))
    assert kinds == ["add", "add", "rename", "remove"]
    rename = VocabularyEvent.objects.get(kind="rename")
    assert rename.details == {"old": "running", "new": "jogging"} and rename.actor == staff_user
    assert VocabularyEvent.objects.get(kind="remove").details["reason"] == "too rare"


def test_merge_moves_labels_and_keeps_history(ds):
    ascending = services.action_add(dataset=ds, name="ascending")
    rising = services.action_add(dataset=ds, name="rising")
    both = services.action_add(dataset=ds, name="ascending/rising")
    v1, v2, v3 = (_video(ds, f"v{i}.mp4") for i in (1, 2, 3))
    _label(v1, ascending, Label.State.POSITIVE)
    _label(v2, ascending)
    _label(v2, rising, Label.State.NEGATIVE)
    _label(v3, rising)
    first = services.action_merge(source=ascending, target=both)
    assert first == {"moved": 2, "superseded": 0, "upgraded": 0}
    # v1 and v2 now have an ascending/rising label; v2's rising label clashes with it
    Label.objects.filter(video=v2, action=both).update(state=Label.State.NEGATIVE)
    Label.objects.filter(video=v2, action=rising).update(state=Label.State.POSITIVE)
    second = services.action_merge(source=rising, target=both)
    assert second == {"moved": 1, "superseded": 1, "upgraded": 1}
    assert set(Label.objects.filter(action=both).values_list("video__name", "state")) == {
        ("v1.mp4", "positive"), ("v2.mp4", "positive"), ("v3.mp4", "pending")
    }
    superseded = Label.objects.get(asked_action=rising, video=v2)
    assert superseded.state == Label.State.MERGED and superseded.merged_into.action == both
    # history: every label remembers what was asked
    assert set(Label.objects.values_list("asked_action__name", flat=True)) == {"ascending", "rising"}
    for action in (ascending, rising):
        action.refresh_from_db()
        assert action.status == Action.Status.MERGED and action.merged_into == both
    assert action_lookup(dataset=ds)["rising"] == both
    events = VocabularyEvent.objects.filter(kind="merge").order_by("id")
    assert [e.details["source"] for e in events] == ["ascending", "rising"]


def test_merge_refusals(ds):
    a = services.action_add(dataset=ds, name="a")
    b = services.action_add(dataset=ds, name="b")
    c = services.action_add(dataset=ds, name="c")
    services.action_remove(action=c)
    with pytest.raises(DomainError) as err:
        services.action_merge(source=a, target=c)
    assert err.value.message == services.MERGE_INTO_INACTIVE.format(name="c", status="removed")
    with pytest.raises(DomainError):
        services.action_merge(source=a, target=a)
    services.action_merge(source=a, target=b)
    with pytest.raises(DomainError):
        services.action_merge(source=b, target=a)
    other = services.action_add(dataset=dataset_create(name="other"), name="x")
    with pytest.raises(DomainError):
        services.action_merge(source=b, target=other)


def test_load_is_idempotent(ds):
    names = read_vocabulary_file(DATA / "mmit_v2_292.txt")
    first = services.vocabulary_load(dataset=ds, names=names)
    assert len(first["added"]) == 292
    second = services.vocabulary_load(dataset=ds, names=names)
    assert second["added"] == [] and len(second["existing"]) == 292
    assert Action.objects.filter(dataset=ds).count() == 292


def test_fig4_migration(ds):
    services.vocabulary_load(dataset=ds, names=read_vocabulary_file(DATA / "mit_v2_305.txt"))
    jumping = Action.objects.get(dataset=ds, name="ascending")
    video = _video(ds, "clip.mp4")
    _label(video, jumping, Label.State.POSITIVE)
    target = read_vocabulary_file(DATA / "mmit_v2_292.txt")

    dry = services.vocabulary_migrate(dataset=ds, target=target, dry_run=True)
    assert Action.objects.filter(dataset=ds, status="active").count() == 305  # nothing changed
    combined = {c["name"] for c in dry.combined}
    assert combined == FIG4_COMBINED
    assert set(dry.added) == FIG4_ADDED
    # The published 292-class list drops `giggling`, which Fig. 4 shows merged as laughing/giggling;
    # without an explicit merge the diff can only call it removed.
    assert set(dry.removed) == FIG4_REMOVED | {"giggling"}

    diff = services.vocabulary_migrate(dataset=ds, target=target, merges={"giggling": "laughing"})
    assert set(diff.removed) == FIG4_REMOVED
    assert {"name": "laughing", "from": ["giggling"]} in diff.combined
    active = set(Action.objects.filter(dataset=ds, status="active").values_list("name", flat=True))
    assert active == set(target)
    label = Label.objects.get(video=video)
    assert label.action.name == "ascending/rising" and label.asked_action.name == "ascending"
    assert Action.objects.get(dataset=ds, name="working").status == "removed"
    # a second migration is a no-op
    again = services.vocabulary_migrate(dataset=ds, target=target)
    assert again.combined == [] and again.added == [] and again.removed == []


def test_migrate_command_report_and_bad_input(ds, capsys):
    call_command("load_vocabulary", str(DATA / "mit_v2_305.txt"), "--dataset", "vocab")
    call_command("migrate_vocabulary", "--dataset", "vocab", "--to", str(DATA / "mmit_v2_292.txt"),
                 "--dry-run", "--merge", "giggling=laughing")
    out = capsys.readouterr().out
    assert "Dry run: nothing changed." in out
    assert "Combined (20):" in out and "Added (28):" in out and "Removed (28):" in out
    assert "  ascending/rising  <- ascending, rising" in out and "  laughing  <- giggling" in out
    with pytest.raises(CommandError, match="not an active action"):
        call_command("migrate_vocabulary", "--dataset", "vocab", "--to", str(DATA / "mmit_v2_292.txt"),
                     "--merge", "moonwalking=laughing")
    with pytest.raises(CommandError, match="Unknown dataset 'nope'"):
        call_command("load_vocabulary", str(DATA / "mit_v2_305.txt"), "--dataset", "nope")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("load_vocabulary", "/no/such/file.txt", "--dataset", "vocab")
    assert Action.objects.filter(dataset=ds, status="active").count() == 305
