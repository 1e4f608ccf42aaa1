"""Relations and sources: judged by their harvest at the start of a round, then discovered.

Judging is a function of the labels' decisions only, so running it twice gives the same
states. Discovery adds the relations of every action that has verified videos (new
verified labels bring new actions: the chain of Fig. 2) as pilots; existing relations keep
their state.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from backend.candidates.models import TOP_K_MAX, TOP_K_MODEL_ONLY, CandidateSource, Relation, Source
from backend.candidates.neighbours import word2vec_neighbours, wordnet_neighbours
from backend.candidates.policy import RoundPolicy
from backend.candidates.selectors import HarvestGroup, Tally
from backend.candidates.services.synsets import action_synsets_guess
from backend.candidates.sql import update_from_rows
from backend.common.errors import DomainError
from backend.labels.models import Label
from backend.videos.models import Dataset
from backend.vocabulary.models import Action

RELATION_PILOT_LOW = "Pilot harvest {rate:.0%} ({yes}/{decided}) is below the {threshold:.0%} threshold."
RELATION_HARVEST_LOW = "Harvest {rate:.0%} ({yes}/{decided}) fell below the {threshold:.0%} threshold."
SOURCE_HARVEST_LOW = "Round {round} harvest {rate:.0%} ({yes}/{decided}) is below the {threshold:.0%} threshold."

TOP_K_OUT_OF_RANGE = "The model source's proposals per video per model run (top_k) must be 1 to {top}, got {value!r}."
UNKNOWN_SOURCE_SETTING = "Unknown candidate source {source!r}: expected one of {choices}."

RELATION_SOURCES = (Source.WORDNET.value, Source.WORD2VEC.value)


def relations_judge(
    *, dataset: Dataset, round_number: int, policy: RoundPolicy, groups: Sequence[HarvestGroup]
) -> dict:
    """Refresh every relation's counters; roll out or stop pilots; stop weak active relations.

    A pilot is judged once its sample is complete and enough of it is decided (both
    ``policy.judged_fraction``: of ``pilot_size`` videos asked -- the per-video cap may hold
    back a few, which later rounds ask -- or every eligible video when there were fewer; and
    of the asked decided). At or above the threshold it is rolled out in this round, below it
    stops. An active
    relation stops when its harvest over all its decided labels falls below the threshold
    (cumulative, so a handful of chain videos in one round cannot stop a proven relation).

    Returns:
        ``{"rolled_out": n, "stopped": n}`` for the round's record.
    """
    totals: dict[int, Tally] = defaultdict(Tally)
    for group in groups:
        if group.relation_id is not None:
            totals[group.relation_id].add(group.tally)
    threshold = policy.harvest_threshold
    rolled_out = stopped = 0
    fields = ["asked", "decided", "yes", "harvest", "state", "rolled_out_round", "stopped_round", "stop_reason"]
    relations = list(Relation.objects.filter(dataset=dataset))
    before = {relation.id: [getattr(relation, name) for name in fields] for relation in relations}
    for relation in relations:
        tally = totals.get(relation.id, Tally())
        relation.asked, relation.decided, relation.yes, relation.harvest = (
            tally.asked, tally.decided, tally.yes, tally.rate,
        )
        if relation.state == Relation.State.STOPPED or not tally.judged(policy.judged_fraction):
            continue
        sampled = tally.asked >= policy.judged_fraction * policy.pilot_size or relation.pilot_exhausted
        if relation.state == Relation.State.PILOT and not sampled:
            continue  # the cap held much of the sample back: it is completed first
        figures = {"rate": tally.rate, "yes": tally.yes, "decided": tally.decided, "threshold": threshold}
        if relation.state == Relation.State.PILOT and tally.rate >= threshold:
            relation.state, relation.rolled_out_round = Relation.State.ACTIVE, round_number
            rolled_out += 1
        elif relation.state == Relation.State.PILOT:
            relation.state, relation.stopped_round = Relation.State.STOPPED, round_number
            relation.stop_reason = RELATION_PILOT_LOW.format(**figures)
            stopped += 1
        elif tally.rate < threshold:
            relation.state, relation.stopped_round = Relation.State.STOPPED, round_number
            relation.stop_reason = RELATION_HARVEST_LOW.format(**figures)
            stopped += 1
    changed = [[relation.id, *after] for relation in relations
               if (after := [getattr(relation, name) for name in fields]) != before[relation.id]]
    update_from_rows(model=Relation, fields=fields, rows=changed)
    return {"rolled_out": rolled_out, "stopped": stopped}


def sources_judge(
    *,
    dataset: Dataset,
    round_number: int,
    policy: RoundPolicy,
    groups: Sequence[HarvestGroup],
    requested: Sequence[str],
) -> dict[str, CandidateSource]:
    """Stop sources whose latest round harvested too little; grow WordNet's distance d.

    The caller holds the source rows locked (they serialise rounds of a dataset). A source's
    latest round is the last one in which it proposed anything; once enough of it is decided,
    a harvest below the threshold stops the source. WordNet (when it runs in this round)
    starts at ``wordnet_start_distance`` and moves one step further each time the latest
    round at the current distance is judged above the threshold -- or proposed nothing
    although relations exist, since there is nothing left to learn at that distance.

    Returns:
        The dataset's source rows by source, updated and saved.
    """
    states = {state.source: state for state in CandidateSource.objects.select_for_update().filter(dataset=dataset)}
    per_round: dict[str, dict[int, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for group in groups:
        per_round[group.source][group.round].add(group.tally)
    threshold = policy.harvest_threshold
    for source, state in states.items():
        if state.status == CandidateSource.Status.STOPPED:
            continue
        rounds = sorted(number for number, tally in per_round[source].items() if tally.asked)
        latest = per_round[source][rounds[-1]] if rounds else None
        if latest is not None and latest.judged(policy.judged_fraction) and latest.rate < threshold:
            state.status, state.stopped_round = CandidateSource.Status.STOPPED, round_number
            state.stop_reason = SOURCE_HARVEST_LOW.format(
                round=rounds[-1], rate=latest.rate, yes=latest.yes, decided=latest.decided, threshold=threshold
            )
        elif source == Source.WORDNET and source in requested:
            _wordnet_distance_step(state=state, rounds=rounds, tallies=per_round[source], policy=policy,
                                   round_number=round_number, dataset=dataset)
        state.save(update_fields=["status", "stop_reason", "stopped_round", "distance", "distance_round",
                                  "updated_at"])
    return states


def _wordnet_distance_step(
    *, state: CandidateSource, rounds: list[int], tallies: dict[int, Tally], policy: RoundPolicy,
    round_number: int, dataset: Dataset,
) -> None:
    if state.distance_round is None:
        state.distance, state.distance_round = policy.wordnet_start_distance, round_number
        return
    if state.distance >= policy.wordnet_max_distance or state.distance_round >= round_number:
        return
    since = [number for number in rounds if number >= state.distance_round]
    if since:
        latest = tallies[since[-1]]
        grow = latest.judged(policy.judged_fraction) and latest.rate >= policy.harvest_threshold
    else:
        grow = Relation.objects.filter(dataset=dataset, source=Source.WORDNET).exists()
    if grow:
        state.distance, state.distance_round = state.distance + 1, round_number


def sources_ensure(*, dataset: Dataset) -> None:
    """Create the dataset's source rows (active) the first time; rows that exist are kept."""
    CandidateSource.objects.bulk_create(
        [CandidateSource(dataset=dataset, source=source) for source in Source.values], ignore_conflicts=True
    )


def source_settings_update(*, dataset: Dataset, source: str, top_k: int | None = None) -> CandidateSource:
    """Change a source's per-dataset setting: ``top_k``, the model source's proposals per video
    per model run (1, the paper's top-1, unless widened). The next round reads it.

    Raises:
        DomainError: an unknown source, a value out of range, or ``top_k`` other than 1 for a
            source that is not the model's.
    """
    if source not in Source.values:
        raise DomainError(UNKNOWN_SOURCE_SETTING.format(source=source, choices=list(Source.values)), field="source")
    sources_ensure(dataset=dataset)
    row = CandidateSource.objects.get(dataset=dataset, source=source)
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= TOP_K_MAX:
            raise DomainError(TOP_K_OUT_OF_RANGE.format(top=TOP_K_MAX, value=top_k), field="top_k")
        if source != Source.MODEL and top_k != 1:
            raise DomainError(TOP_K_MODEL_ONLY, field="top_k")
        row.top_k = top_k
        row.save(update_fields=["top_k", "updated_at"])
    return row


def relations_discover(
    *,
    dataset: Dataset,
    round_number: int,
    policy: RoundPolicy,
    sources: Sequence[str],
    wordnet_distance: int,
) -> dict[str, int]:
    """Add, as pilots, the relations of every action verified on at least one video.

    WordNet relations reach ``wordnet_distance`` graph edges (scored by distance); Word2Vec
    relations link to the ``word2vec_limit`` most similar actions above
    ``word2vec_threshold`` (scored by similarity). Relations that exist keep their state,
    so a stopped relation is never piloted again.

    Returns:
        ``{source: relations added}``.
    """
    actions = dict(
        Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE).values_list("name", "id")
    )
    verified_ids = set(
        Label.objects.filter(dataset=dataset, state=Label.State.POSITIVE)
        .values_list("action_id", flat=True).order_by().distinct()
    )
    verified = [name for name, action_id in actions.items() if action_id in verified_ids]
    tables: dict[str, dict[str, list[tuple[str, float]]]] = {}
    if Source.WORDNET in sources and verified:
        synsets = {name: ids for name, ids in action_synsets_guess(dataset=dataset).items() if ids}
        tables[Source.WORDNET] = wordnet_neighbours(
            action_synsets=synsets, sources=[name for name in verified if name in synsets], distance=wordnet_distance
        )
    if Source.WORD2VEC in sources and verified:
        tables[Source.WORD2VEC] = word2vec_neighbours(
            actions=list(actions), sources=verified, threshold=policy.word2vec_threshold, limit=policy.word2vec_limit
        )
    added: dict[str, int] = {}
    for source, table in tables.items():
        before = Relation.objects.filter(dataset=dataset, source=source).count()
        Relation.objects.bulk_create(
            [
                Relation(
                    dataset=dataset, source=source, from_action_id=actions[name], to_action_id=actions[other],
                    score=score, started_round=round_number,
                )
                for name, neighbours in table.items()
                for other, score in neighbours
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        added[source] = Relation.objects.filter(dataset=dataset, source=source).count() - before
    return added
