"""Vocabulary changes, each recorded in the audit trail.

Actions are never deleted: a merge archives the source with `merged_into` and moves its labels
and candidates to the target; a removal archives the action and keeps its labels for history.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from django.db import transaction

from backend.common.errors import Conflict, DomainError
from backend.videos.models import Dataset
from backend.vocabulary.glosses import glosses
from backend.vocabulary.models import Action, VocabularyEvent
from backend.vocabulary.names import clean_action_name, display_name_for
from backend.vocabulary.signals import action_merged

DUPLICATE_ACTION = "An action named {name!r} already exists in dataset {dataset!r}."
MERGE_INTO_INACTIVE = "Cannot merge into {name!r}: it is {status}."
MERGE_INACTIVE_SOURCE = "Cannot merge {name!r}: it is {status}."
MERGE_INTO_SELF = "Cannot merge {name!r} into itself."
MERGE_ACROSS_DATASETS = "Cannot merge actions of different datasets."
RENAME_INACTIVE = "Cannot rename {name!r}: it is {status}."
REMOVE_INACTIVE = "{name!r} is already {status}."
RESTORE_ACTIVE = "{name!r} is not removed."
MIGRATE_UNKNOWN_MERGE = "Explicit merge {old!r} -> {new!r}: {old!r} is not an active action."
MIGRATE_MERGE_TARGET_MISSING = "Explicit merge {old!r} -> {new!r}: {new!r} is not in the target vocabulary."
DEFINITION_MAX_LENGTH = 300  # a generated definition is a line under the question, not a dictionary entry

log = logging.getLogger(__name__)


def _event(*, dataset: Dataset, kind: str, action=None, target=None, actor=None, **details) -> None:
    VocabularyEvent.objects.create(
        dataset=dataset, kind=kind, action=action, target=target, actor=actor, details=details
    )


def _ensure_free(dataset: Dataset, name: str) -> None:
    if Action.objects.filter(dataset=dataset, name=name).exists():
        raise Conflict(DUPLICATE_ACTION.format(name=name, dataset=dataset.name), field="name")


@transaction.atomic
def action_add(
    *,
    dataset: Dataset,
    name: str,
    display_name: str = "",
    definition: str = "",
    synonyms: list[str] | None = None,
    synsets: list[str] | None = None,
    actor=None,
) -> Action:
    """A new active action; given ``synsets`` (a curator's) and no ``definition``, the definition is
    written from their WordNet glosses (``action_definitions_fill``)."""
    name = clean_action_name(name)
    _ensure_free(dataset, name)
    synsets = [s.strip() for s in synsets or [] if s.strip()]
    action = Action.objects.create(
        dataset=dataset,
        name=name,
        display_name=display_name.strip() or display_name_for(name),
        definition=definition,
        synonyms=list(synonyms or []),
        synsets=synsets,
        synsets_curated=bool(synsets),
    )
    _event(dataset=dataset, kind=VocabularyEvent.Kind.ADD, action=action, actor=actor, name=name)
    if synsets and not definition.strip():
        _definitions_fill_quietly(actions=[action], actor=actor)
    return action


@transaction.atomic
def action_rename(*, action: Action, new_name: str, display_name: str = "", actor=None) -> Action:
    new_name = clean_action_name(new_name)
    if action.status != Action.Status.ACTIVE:
        raise DomainError(RENAME_INACTIVE.format(name=action.name, status=action.status))
    if new_name == action.name:
        return action
    _ensure_free(action.dataset, new_name)
    old = action.name
    action.name = new_name
    action.display_name = display_name.strip() or display_name_for(new_name)
    action.save(update_fields=["name", "display_name", "updated_at"])
    _event(dataset=action.dataset, kind=VocabularyEvent.Kind.RENAME, action=action, actor=actor,
           old=old, new=new_name)
    return action


@transaction.atomic
def action_merge(*, source: Action, target: Action, actor=None) -> dict:
    """Merge `source` into `target`: its labels and candidates move, the action is archived.

    What moves is moved by the apps that hold it, on ``signals.action_merged`` (the labels app:
    ``labels.services.labels_move_action``); their counts make the returned summary.
    """
    if source.dataset_id != target.dataset_id:
        raise DomainError(MERGE_ACROSS_DATASETS)
    if source.pk == target.pk:
        raise DomainError(MERGE_INTO_SELF.format(name=source.name))
    if target.status != Action.Status.ACTIVE:
        raise DomainError(MERGE_INTO_INACTIVE.format(name=target.name, status=target.status))
    if source.status != Action.Status.ACTIVE:
        raise DomainError(MERGE_INACTIVE_SOURCE.format(name=source.name, status=source.status))

    summary: dict[str, int] = {}
    for _, counts in action_merged.send(sender=Action, source=source, target=target):
        summary.update(counts or {})
    # Earlier merges into `source` now point straight at the new target.
    Action.objects.filter(merged_into=source).update(merged_into=target)
    source.status = Action.Status.MERGED
    source.merged_into = target
    source.save(update_fields=["status", "merged_into", "updated_at"])
    _event(dataset=source.dataset, kind=VocabularyEvent.Kind.MERGE, action=source, target=target,
           actor=actor, source=source.name, into=target.name, **summary)
    return summary


@transaction.atomic
def action_remove(*, action: Action, reason: str = "", actor=None) -> Action:
    if action.status != Action.Status.ACTIVE:
        raise DomainError(REMOVE_INACTIVE.format(name=action.name, status=action.status))
    action.status = Action.Status.REMOVED
    action.save(update_fields=["status", "updated_at"])
    _event(dataset=action.dataset, kind=VocabularyEvent.Kind.REMOVE, action=action, actor=actor,
           name=action.name, reason=reason)
    return action


@transaction.atomic
def action_restore(*, action: Action, actor=None) -> Action:
    if action.status != Action.Status.REMOVED:
        raise DomainError(RESTORE_ACTIVE.format(name=action.name))
    action.status = Action.Status.ACTIVE
    action.save(update_fields=["status", "updated_at"])
    _event(dataset=action.dataset, kind=VocabularyEvent.Kind.RESTORE, action=action, actor=actor,
           name=action.name)
    return action


@transaction.atomic
def action_update(
    *, action: Action, definition: str | None = None, synonyms: list[str] | None = None,
    synsets: list[str] | None = None, actor=None,
) -> Action:
    """Curator edits of the descriptive fields (definition, synonyms, WordNet synsets).

    A definition given here is the curator's (``definition_generated`` cleared, never overwritten
    by a refill). New synsets rewrite a generated (or empty) definition from their glosses.
    """
    changed = {}
    if definition is not None:
        action.definition = definition
        action.definition_generated = False
        changed["definition"] = definition
    if synonyms is not None:
        action.synonyms = [s.strip() for s in synonyms if s.strip()]
        changed["synonyms"] = action.synonyms
    if synsets is not None:
        action.synsets = [s.strip() for s in synsets if s.strip()]
        action.synsets_curated = True
        changed["synsets"] = action.synsets
    if changed:
        action.save(update_fields=["definition", "definition_generated", "synonyms", "synsets", "synsets_curated",
                                   "updated_at"])
        _event(dataset=action.dataset, kind=VocabularyEvent.Kind.EDIT, action=action, actor=actor,
               **changed)
    if synsets is not None and definition is None and (action.definition_generated or not action.definition):
        _definitions_fill_quietly(actions=[action], overwrite_generated=True, actor=actor)
    return action


def definition_from_glosses(gloss_list: Iterable[str]) -> str:
    """The distinct glosses as one definition: ``"Move fast by using one's feet; ..."``, at most
    ``DEFINITION_MAX_LENGTH`` characters (cut at a word, with an ellipsis)."""
    parts = list(dict.fromkeys(g.strip().rstrip(";.") for g in gloss_list if g and g.strip()))
    text = "; ".join(parts)
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    if len(text) > DEFINITION_MAX_LENGTH:
        text = text[: DEFINITION_MAX_LENGTH - 1].rsplit(" ", 1)[0].rstrip(",;") + "…"
    return text


def _synsets_for_definition(action: Action) -> list[str]:
    # A curator's synsets are all meant; of an automatic guess only the best sense is trusted
    # (the further ones are there to widen WordNet relations, not to describe the action).
    return list(action.synsets) if action.synsets_curated else list(action.synsets[:1])


@transaction.atomic
def action_definitions_fill(
    *, dataset: Dataset | None = None, actions: Iterable[Action] | None = None, overwrite_generated: bool = False,
    actor=None,
) -> list[str]:
    """Write each action's definition from the WordNet glosses of its synsets, marked generated.

    Only actions without a definition are filled, and with ``overwrite_generated`` those whose
    definition was generated before (a refill after their synsets changed); a curator's definition
    is never touched. Curated synsets give the join of their distinct glosses, an automatic guess
    the gloss of its first (best) sense. A generated definition whose synsets are gone (or unknown
    to WordNet) is emptied on a refill.

    Args:
        dataset: every active action of the dataset (unless ``actions`` is given).
        actions: these actions only.

    Returns:
        The names of the actions whose definition changed, in name order.

    Raises:
        DomainError: WordNet cannot be read (nothing is written).
    """
    if actions is None:
        if dataset is None:
            raise ValueError("action_definitions_fill needs a dataset or actions")
        actions = Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE)
    todo = [a for a in actions
            if not a.definition.strip() or (overwrite_generated and a.definition_generated)]
    if not todo:
        return []
    known = glosses(sorted({s for a in todo for s in _synsets_for_definition(a)}))
    changed = []
    for action in todo:
        text = definition_from_glosses(known[s] for s in _synsets_for_definition(action) if s in known)
        if text == action.definition:
            continue
        action.definition, action.definition_generated = text, bool(text)
        changed.append(action)
    if not changed:
        return []
    # Not `updated_at`: that stays the time of the curators' last edit.
    Action.objects.bulk_update(changed, ["definition", "definition_generated"])
    names = sorted(a.name for a in changed)
    _event(dataset=changed[0].dataset, kind=VocabularyEvent.Kind.EDIT, actor=actor, generated_definitions=names)
    return names


def _definitions_fill_quietly(*, actions: list[Action], overwrite_generated: bool = False, actor=None) -> None:
    """The fill that follows an edit or an import: WordNet missing is logged, not an error (the
    action is saved either way; ``fill_definitions`` writes the definitions later)."""
    try:
        action_definitions_fill(actions=actions, overwrite_generated=overwrite_generated, actor=actor)
    except DomainError as exc:
        log.warning("definitions not generated for %s: %s", ", ".join(a.name for a in actions), exc.message)


@transaction.atomic
def vocabulary_load(*, dataset: Dataset, names: list[str], actor=None, origin: str = "") -> dict:
    """Add every name not yet in the dataset (idempotent: a second load adds nothing)."""
    cleaned = [clean_action_name(n) for n in names]
    existing = set(Action.objects.filter(dataset=dataset, name__in=cleaned).values_list("name", flat=True))
    new = [n for n in dict.fromkeys(cleaned) if n not in existing]
    Action.objects.bulk_create(
        [Action(dataset=dataset, name=n, display_name=display_name_for(n)) for n in new]
    )
    report = {"added": new, "existing": sorted(existing)}
    _event(dataset=dataset, kind=VocabularyEvent.Kind.LOAD, actor=actor, origin=origin,
           added=len(new), existing=len(existing))
    return report


@dataclass
class VocabularyDiff:
    """What migrating the active vocabulary to a target list does (Fig. 4 of the paper)."""

    combined: list[dict] = field(default_factory=list)  # {"name": new, "from": [old, ...]}
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def vocabulary_diff(*, current: list[str], target: list[str], merges: dict[str, str] | None = None) -> VocabularyDiff:
    """Classes combined (`a/b` names built from existing ones, or explicit merges), added, removed.

    A target name written `a/b/c` combines whichever of `a`, `b`, `c` exist now; `merges`
    maps further old names onto target names (e.g. `giggling` -> `laughing`).
    """
    merges = merges or {}
    current_set, target_set = set(current), set(target)
    for old, new in merges.items():
        if old not in current_set:
            raise DomainError(MIGRATE_UNKNOWN_MERGE.format(old=old, new=new))
        if new not in target_set:
            raise DomainError(MIGRATE_MERGE_TARGET_MISSING.format(old=old, new=new))
    diff = VocabularyDiff()
    consumed: set[str] = set(merges)
    for name in target:
        parts = [p for p in name.split("/") if p in current_set and p != name] if "/" in name else []
        extra = [old for old, new in merges.items() if new == name and old != name]
        sources = list(dict.fromkeys(parts + extra))
        consumed.update(parts)
        if "/" in name and name not in current_set or sources:
            diff.combined.append({"name": name, "from": sources})
        elif name in current_set:
            diff.kept.append(name)
        else:
            diff.added.append(name)
    diff.removed = [n for n in current if n not in target_set and n not in consumed]
    return diff


@transaction.atomic
def vocabulary_migrate(
    *, dataset: Dataset, target: list[str], merges: dict[str, str] | None = None,
    dry_run: bool = False, actor=None, origin: str = "",
) -> VocabularyDiff:
    """Move the dataset's active vocabulary to `target`, merging, adding and removing classes."""
    target = [clean_action_name(n) for n in dict.fromkeys(target)]
    current = list(
        Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE).values_list("name", flat=True)
    )
    diff = vocabulary_diff(current=current, target=target, merges=merges)
    if dry_run:
        return diff
    by_name = {a.name: a for a in Action.objects.filter(dataset=dataset)}
    for entry in diff.combined:
        into = by_name.get(entry["name"])
        if into is None:
            into = by_name[entry["name"]] = action_add(dataset=dataset, name=entry["name"], actor=actor)
        elif into.status != Action.Status.ACTIVE:
            into = action_restore(action=into, actor=actor)
        for old in entry["from"]:
            if old != into.name:
                action_merge(source=by_name[old], target=into, actor=actor)
    for name in diff.added:
        existing = by_name.get(name)
        if existing is None:
            action_add(dataset=dataset, name=name, actor=actor)
        elif existing.status == Action.Status.REMOVED:
            action_restore(action=existing, actor=actor)
    for name in diff.removed:
        action_remove(action=by_name[name], reason=f"not in {origin or 'the target vocabulary'}",
                      actor=actor)
    _event(dataset=dataset, kind=VocabularyEvent.Kind.MIGRATE, actor=actor, origin=origin,
           combined=len(diff.combined), added=len(diff.added), removed=len(diff.removed))
    return diff


def format_diff(diff: VocabularyDiff) -> str:
    """The migration report as text, in the three sections of Fig. 4."""
    lines = [f"Combined ({len(diff.combined)}):"]
    for entry in diff.combined:
        sources = ", ".join(entry["from"]) or "no existing class"
        lines.append(f"  {entry['name']}  <- {sources}")
    lines.append(f"Added ({len(diff.added)}):")
    lines.extend(f"  {n}" for n in diff.added)
    lines.append(f"Removed ({len(diff.removed)}):")
    lines.extend(f"  {n}" for n in diff.removed)
    lines.append(f"Unchanged: {len(diff.kept)}")
    return "\n".join(lines)
