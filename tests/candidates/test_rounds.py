"""Candidate rounds on the real WordNet and small vector files: pilots, roll-out, stops, chain, cap, crashes.

The crowd is simulated by setting the proposals' states directly (``decide``).
"""
from __future__ import annotations

from collections import Counter

import pytest

from backend.annotation.models import Question
from backend.candidates.lexicon.vectors import VECTORS_BAD_FORMAT
from backend.candidates.models import CandidateRound, CandidateSource, Relation, RoundChunk
from backend.candidates.policy import (
    HARVEST_THRESHOLD_OUT_OF_RANGE,
    SIMILARITY_THRESHOLD_OUT_OF_RANGE,
    RoundPolicy,
)
from backend.candidates.selectors import harvest_by_relation, harvest_by_round, harvest_by_source
from backend.candidates.services import candidate_round_run
from backend.candidates.services import rounds as rounds_module
from backend.candidates.services.relations import RELATION_HARVEST_LOW, RELATION_PILOT_LOW, SOURCE_HARVEST_LOW
from backend.candidates.services.rounds import NO_SOURCES, UNKNOWN_SOURCE
from backend.common.errors import DomainError
from backend.common.jobs import job_create
from backend.labels.models import Label
from backend.vocabulary.models import Action
from backend.vocabulary.services import action_update
from tests.candidates.conftest import action, decide, make_videos, proposals, verify

WORDNET = ["wordnet"]
WORD2VEC = ["word2vec"]


def relation(dataset, source: str, a: str, b: str) -> Relation:
    return Relation.objects.get(dataset=dataset, source=source, from_action__name=a, to_action__name=b)


def labels_of(rel: Relation, **filters):
    return Label.objects.filter(relation=rel, **filters)


def nothing_written(dataset) -> bool:
    return not (
        CandidateRound.objects.filter(dataset=dataset).exists()
        or Relation.objects.filter(dataset=dataset).exists()
        or CandidateSource.objects.filter(dataset=dataset).exists()
        or Label.objects.filter(dataset=dataset, round__gt=0).exists()
        or Question.objects.filter(dataset=dataset).exists()
    )


@pytest.fixture
def running120(chain):
    """120 videos verified `running`."""
    verify(chain, make_videos(chain, 120), "running")
    return chain


# --- pilots, roll-out, stopping --------------------------------------------------------------


def test_new_relations_are_piloted_on_a_sample_then_rolled_out_or_stopped(running120):
    dataset = running120
    # A cap above what a round proposes: round 2 also pilots the relations at distance 2, which
    # would otherwise take the videos' slots first and push part of the roll-out to round 3.
    policy = RoundPolicy.from_settings(per_video_cap=10)
    first = candidate_round_run(dataset=dataset, sources=WORDNET, policy=policy)
    assert first.number == 1 and first.status == CandidateRound.Status.FINISHED
    pilots = {r.to_action.name: r for r in Relation.objects.filter(dataset=dataset).select_related("to_action")}
    assert set(pilots) == {"jogging", "racing", "sprinting"}  # WordNet distance 1 from run.v.01
    for rel in pilots.values():
        assert rel.state == Relation.State.PILOT and rel.started_round == 1 and rel.score == 1.0
        asked = labels_of(rel)
        assert asked.count() == 50  # the default pilot size, out of 120 eligible videos
        assert set(asked.values_list("source", "round", "score", "state")) == {("wordnet", 1, 1.0, "pending")}
    # Each relation draws its own sample, so pilots do not pile onto the same videos.
    samples = [set(labels_of(rel).values_list("video_id", flat=True)) for rel in pilots.values()]
    assert samples[0] != samples[1] != samples[2]
    assert Question.objects.filter(label__round=1).count() == 150
    assert first.stats["sources"]["wordnet"] | {"pilot": 150, "rollout": 0, "proposed": 150} == \
        first.stats["sources"]["wordnet"]

    decide(dataset, lambda label: label.action.name == "sprinting"
           or (label.action.name == "racing" and label.video_id % 5 < 2))
    second = candidate_round_run(dataset=dataset, sources=WORDNET, policy=policy)
    sprinting, racing, jogging = (relation(dataset, "wordnet", "running", b)
                                  for b in ("sprinting", "racing", "jogging"))
    assert (sprinting.state, sprinting.rolled_out_round, sprinting.harvest) == (Relation.State.ACTIVE, 2, 1.0)
    assert racing.state == Relation.State.ACTIVE and 0.2 <= racing.harvest < 1
    assert jogging.state == Relation.State.STOPPED and jogging.stopped_round == 2
    assert jogging.stop_reason == RELATION_PILOT_LOW.format(rate=0.0, yes=0, decided=50, threshold=0.2)
    # Rolled out to every other video verified with running (a few pairs went to the new pilots
    # that reach them too, e.g. racing -> sprinting); the stopped pilot asks nothing more.
    for name in ("sprinting", "racing"):
        assert Label.objects.filter(dataset=dataset, action__name=name).count() == 120
    assert labels_of(sprinting, round=2).count() + labels_of(racing, round=2).count() == \
        second.stats["sources"]["wordnet"]["rollout"] > 0
    assert labels_of(jogging).count() == 50
    assert second.stats["judged"] == {"rolled_out": 2, "stopped": 1}


def test_a_source_stops_when_its_round_harvest_falls_below_the_threshold(running120):
    dataset = running120
    policy = RoundPolicy.from_settings(per_video_cap=3)
    candidate_round_run(dataset=dataset, sources=WORDNET, policy=policy)
    decide(dataset, lambda label: False)
    second = candidate_round_run(dataset=dataset, sources=WORDNET, policy=policy)
    source = CandidateSource.objects.get(dataset=dataset, source="wordnet")
    assert source.status == CandidateSource.Status.STOPPED and source.stopped_round == 2
    assert source.stop_reason == SOURCE_HARVEST_LOW.format(round=1, rate=0.0, yes=0, decided=150, threshold=0.2)
    assert second.proposed == 0 and second.stats["sources"]["wordnet"]["ran"] is False
    assert harvest_by_source(dataset=dataset)["wordnet"] == {"asked": 150, "decided": 150, "yes": 0, "rate": 0.0}
    third = candidate_round_run(dataset=dataset, sources=WORDNET, policy=policy)
    assert third.proposed == 0 and Label.objects.filter(round=3).count() == 0


@pytest.mark.parametrize(("threshold", "stops"), [(0.2, False), (0.5, True)])
def test_the_harvest_threshold_is_configurable(running120, threshold, stops):
    dataset = running120
    policy = RoundPolicy.from_settings(harvest_threshold=threshold, per_video_cap=3)
    candidate_round_run(dataset=dataset, sources=WORDNET, policy=policy)
    # 40% Yes in every relation's pilot, whatever videos its sample drew (a rule on video ids would
    # give one relation's small sample 0% now and then, depending on the ids the database handed out)
    yes = set()
    for rel in Relation.objects.filter(dataset=dataset, started_round=1):
        ids = list(labels_of(rel, state=Label.State.PENDING).order_by("id").values_list("id", flat=True))
        assert len(ids) >= 5, (rel, len(ids))
        yes |= set(ids[: 2 * len(ids) // 5])  # between 28% and 40% for 5 or more: above 0.2, below 0.5
    decide(dataset, lambda label: label.pk in yes)
    candidate_round_run(dataset=dataset, sources=WORDNET, policy=policy)
    states = set(Relation.objects.filter(dataset=dataset, started_round=1).values_list("state", flat=True))
    assert states == ({Relation.State.STOPPED} if stops else {Relation.State.ACTIVE})
    status = CandidateSource.objects.get(dataset=dataset, source="wordnet").status
    assert status == (CandidateSource.Status.STOPPED if stops else CandidateSource.Status.ACTIVE)


def test_an_active_relation_stops_when_its_harvest_falls(chain):
    videos = make_videos(chain, 60)
    verify(chain, videos, "running")
    policy = RoundPolicy.from_settings(pilot_size=10, per_video_cap=10)
    candidate_round_run(dataset=chain, sources=WORDNET, policy=policy)
    decide(chain, lambda label: label.action.name == "sprinting")
    candidate_round_run(dataset=chain, sources=WORDNET, policy=policy)  # sprinting rolled out to 50 more
    decide(chain, lambda label: False)
    candidate_round_run(dataset=chain, sources=WORDNET, policy=policy)
    sprinting = relation(chain, "wordnet", "running", "sprinting")
    assert sprinting.state == Relation.State.STOPPED and sprinting.stopped_round == 3
    assert sprinting.stop_reason == RELATION_HARVEST_LOW.format(rate=10 / 60, yes=10, decided=60, threshold=0.2)


def test_wordnet_distance_grows_round_by_round_while_the_harvest_holds(running120):
    dataset = running120
    candidate_round_run(dataset=dataset, sources=WORDNET)
    source = CandidateSource.objects.get(dataset=dataset, source="wordnet")
    assert (source.distance, source.distance_round) == (1, 1)
    assert set(Relation.objects.filter(dataset=dataset).values_list("score", flat=True)) == {1.0}
    decide(dataset, lambda label: True)
    second = candidate_round_run(dataset=dataset, sources=WORDNET)
    source.refresh_from_db()
    assert (source.distance, source.distance_round) == (2, 2) and second.stats["wordnet_distance"] == 2
    competing = relation(dataset, "wordnet", "running", "competing")  # two edges away
    assert competing.score == 2.0 and competing.started_round == 2 and competing.state == Relation.State.PILOT
    decide(dataset, lambda label: False)
    candidate_round_run(dataset=dataset, sources=WORDNET)
    source.refresh_from_db()
    assert source.status == CandidateSource.Status.STOPPED and source.distance == 2


# --- the chain of Fig. 2 ---------------------------------------------------------------------------


def test_new_verified_labels_feed_the_next_round(chain, settings, tiny_vectors_path):
    """running -> jumping -> cheering -> clapping, each link proposed once the previous one is verified."""
    settings.MMIT_VECTORS_PATH = str(tiny_vectors_path)
    verify(chain, make_videos(chain, 10), "running")
    path = ["jumping", "cheering", "clapping"]
    for number, name in enumerate(path, start=1):
        done = candidate_round_run(dataset=chain, sources=WORD2VEC)
        assert done.number == number
        assert {b for _, b in proposals(chain, round=number)} == {name}
        decide(chain, lambda label: True)
    video = Label.objects.filter(dataset=chain, action__name="clapping").first().video
    trail = Label.objects.filter(video=video).select_related("relation__from_action").order_by("round")
    assert [(lb.action.name, lb.round, lb.relation and lb.relation.from_action.name) for lb in trail] == [
        ("running", 0, None), ("jumping", 1, "running"), ("cheering", 2, "jumping"), ("clapping", 3, "cheering"),
    ]
    jumping = trail[1]
    assert jumping.source == "word2vec" and jumping.score == pytest.approx(0.949, abs=1e-3)


# --- the cap and the pairs already asked ------------------------------------------------------------


def test_questions_per_video_per_round_are_capped_and_no_pair_is_asked_twice(chain):
    videos = make_videos(chain, 10)
    for name in ("running", "cooking", "applauding"):
        verify(chain, videos, name)  # 7 WordNet relations reach each video
    already = videos[0]
    sprinting = action(chain, "sprinting")
    Label.objects.create(dataset=chain, video=already, action=sprinting, asked_action=sprinting,
                         source=Label.Source.CURATOR, state=Label.State.NEGATIVE)
    policy = RoundPolicy.from_settings(per_video_cap=2)
    for number in (1, 2, 3, 4):
        candidate_round_run(dataset=chain, sources=WORDNET, policy=policy)
        per_video = Counter(Label.objects.filter(round=number).values_list("video_id", flat=True))
        # Undecided pilots keep asking until their sample is complete, two questions a round.
        assert set(per_video.values()) == ({2} if number < 4 else {1}) and len(per_video) == (10 if number < 4 else 9)
    pairs = list(Label.objects.filter(dataset=chain).values_list("video_id", "action_id"))
    assert len(pairs) == len(set(pairs))
    assert not Label.objects.filter(video=already, action=sprinting, round__gt=0).exists()
    assert Label.objects.filter(dataset=chain, round__gt=0).count() == 7 * 10 - 1


def test_pilots_come_before_rolled_out_relations_under_the_cap(chain):
    verify(chain, make_videos(chain, 20), "running")
    candidate_round_run(dataset=chain, sources=WORDNET, policy=RoundPolicy.from_settings(pilot_size=5))
    decide(chain, lambda label: True)
    second = candidate_round_run(dataset=chain, sources=WORDNET,
                                 policy=RoundPolicy.from_settings(pilot_size=5, per_video_cap=1))
    labels = Label.objects.filter(round=2).select_related("relation")
    pilot = {label.video_id for label in labels if label.relation.state == Relation.State.PILOT}
    rollout = {label.video_id for label in labels if label.relation.rolled_out_round == 2}
    assert len(pilot) == second.stats["pilot"]["wordnet"] > 0 and rollout
    assert not pilot & rollout  # one question per video: a video in a pilot sample gets the pilot
    assert max(Counter(label.video_id for label in labels).values()) == 1


# --- idempotence and crashes ----------------------------------------------------------------------------


def test_rerunning_a_finished_round_changes_nothing(running120):
    job = job_create(kind="candidate_round")
    first = candidate_round_run(dataset=running120, sources=WORDNET, job=job)
    before = list(Label.objects.order_by("id").values_list("id", "state"))
    again = candidate_round_run(dataset=running120, sources=WORDNET, job=job)
    assert again.pk == first.pk and again.stats == first.stats
    assert list(Label.objects.order_by("id").values_list("id", "state")) == before
    assert CandidateRound.objects.count() == 1


def twin_datasets(count: int):
    """Two identical datasets: running verified on the first half of the videos, jumping on the rest."""
    from backend.videos.services import dataset_create
    from backend.vocabulary.services import vocabulary_load
    from tests.candidates.conftest import CHAIN_ACTIONS

    twins = []
    for name in ("crashy", "steady"):
        dataset = dataset_create(name=name)
        vocabulary_load(dataset=dataset, names=list(CHAIN_ACTIONS))
        videos = make_videos(dataset, count)
        verify(dataset, videos[: count // 2], "running")
        verify(dataset, videos[count // 2:], "jumping")
        twins.append(dataset)
    return twins


def snapshot(dataset) -> set:
    rows = Label.objects.filter(dataset=dataset, round__gt=0).values_list(
        "video__name", "action__name", "round", "source", "relation__from_action__name", "score", "state")
    return set(rows)


def test_a_crash_mid_round_leaves_whole_chunks_and_a_rerun_completes_it(db, settings, tiny_vectors_path,
                                                                        monkeypatch):
    settings.MMIT_VECTORS_PATH = str(tiny_vectors_path)
    crashy, steady = twin_datasets(40)
    # Pilots larger than the dataset ask every eligible video: both twins propose the same pairs.
    policy = RoundPolicy.from_settings(chunk_videos=10, per_video_cap=3)
    for dataset in (crashy, steady):
        candidate_round_run(dataset=dataset, sources=WORD2VEC, policy=policy)
        decide(dataset, lambda label: True)
    # Round 2 rolls jumping -> cheering out to the first half, verified with jumping in round 1.
    candidate_round_run(dataset=steady, sources=WORD2VEC, policy=policy)

    real, calls = rounds_module.proposals_chunk, []

    def crash_on_second_chunk(**kwargs):
        calls.append(kwargs["low"])
        if len(calls) == 2:
            raise ConnectionError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(rounds_module, "proposals_chunk", crash_on_second_chunk)
    with pytest.raises(ConnectionError):
        candidate_round_run(dataset=crashy, sources=WORD2VEC, policy=policy)
    open_round = CandidateRound.objects.get(dataset=crashy, number=2)
    assert open_round.status == CandidateRound.Status.PLANNED
    done = list(RoundChunk.objects.filter(candidate_round=open_round, done=True))
    assert len(done) == 1 and done[0].proposed == 10
    # Whole chunks only: every roll-out label of round 2 lies in the finished chunk, with its question.
    rollout = Label.objects.filter(dataset=crashy, round=2, relation__rolled_out_round=2)
    assert rollout.count() == 10 and all(done[0].low <= lb.video_id < done[0].high for lb in rollout)
    assert Question.objects.filter(label__dataset=crashy, label__round=2).count() == \
        Label.objects.filter(dataset=crashy, round=2).count()

    monkeypatch.setattr(rounds_module, "proposals_chunk", real)
    resumed = candidate_round_run(dataset=crashy, sources=WORD2VEC, policy=policy)
    assert resumed.pk == open_round.pk and resumed.status == CandidateRound.Status.FINISHED
    assert snapshot(crashy) == snapshot(steady)
    assert resumed.proposed == CandidateRound.objects.get(dataset=steady, number=2).proposed
    assert resumed.stats["sources"]["word2vec"]["rollout"] == 20


def test_a_crash_while_planning_writes_nothing(running120, monkeypatch):
    def crash(**kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(rounds_module, "pilot_cutoffs_compute", crash)
    with pytest.raises(ConnectionError):
        candidate_round_run(dataset=running120, sources=WORDNET)
    assert nothing_written(running120)


# --- senses and bad input ---------------------------------------------------------------------------


def test_guessed_senses_are_stored_and_curated_ones_drive_relations(chain):
    verify(chain, make_videos(chain, 5), "running")
    cooking = action(chain, "cooking")
    action_update(action=action(chain, "running"), synsets=["cook.v.01"])  # a curator's (odd) choice
    candidate_round_run(dataset=chain, sources=WORDNET)
    assert action(chain, "running").synsets == ["cook.v.01"]  # curated: kept
    assert cooking.synsets == [] and action(chain, "cooking").synsets[0] == "cook.v.01"  # guessed: stored
    # Relations follow the curated sense: running now shares cook.v.01 with cooking (distance 0).
    assert {(r.to_action.name, r.score) for r in Relation.objects.filter(dataset=chain)} == {("cooking", 0.0)}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sources": ["wordnet", "telepathy"]}, UNKNOWN_SOURCE.format(source="telepathy")),
    ({"sources": []}, NO_SOURCES),
    ({"policy_overrides": {"harvest_threshold": 1.5}}, HARVEST_THRESHOLD_OUT_OF_RANGE.format(value=1.5)),
    ({"policy_overrides": {"word2vec_threshold": -2}}, SIMILARITY_THRESHOLD_OUT_OF_RANGE.format(value=-2)),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(running120, kwargs, message):
    with pytest.raises(DomainError) as error:
        overrides = kwargs.pop("policy_overrides", None)
        policy = RoundPolicy(**{**RoundPolicy().as_dict(), **(overrides or {})})
        candidate_round_run(dataset=running120, policy=policy, **kwargs)
    assert error.value.message == message
    assert nothing_written(running120)


def test_a_vectors_file_in_the_wrong_format_is_a_clear_error_and_writes_nothing(running120, settings, tmp_path):
    bad = tmp_path / "vectors.txt"
    bad.write_text("this is not\na vectors file\n")
    settings.MMIT_VECTORS_PATH = str(bad)
    with pytest.raises(DomainError) as error:
        candidate_round_run(dataset=running120, sources=["wordnet", "word2vec"])
    assert error.value.message == VECTORS_BAD_FORMAT.format(
        path=bad, reason="the first line is neither a header nor a vector")
    assert nothing_written(running120)


# --- figures ------------------------------------------------------------------------------------------


def test_harvest_is_reported_per_source_relation_and_round(running120, settings, tiny_vectors_path):
    settings.MMIT_VECTORS_PATH = str(tiny_vectors_path)
    policy = RoundPolicy.from_settings(per_video_cap=10)
    candidate_round_run(dataset=running120, policy=policy)
    decide(running120, lambda label: label.action.name in ("sprinting", "jumping"))
    by_source = harvest_by_source(dataset=running120)
    assert by_source["wordnet"] == {"asked": 150, "decided": 150, "yes": 50, "rate": 50 / 150}
    assert by_source["word2vec"] == {"asked": 50, "decided": 50, "yes": 50, "rate": 1.0}  # running -> jumping
    assert by_source["model"] == {"asked": 0, "decided": 0, "yes": 0, "rate": None}
    assert harvest_by_round(dataset=running120)[1]["wordnet"]["yes"] == 50
    sprinting = relation(running120, "wordnet", "running", "sprinting")
    assert harvest_by_relation(dataset=running120)[sprinting.id]["rate"] == 1.0
    # Labels not yet decided count as asked, not in the rate.
    candidate_round_run(dataset=running120, policy=policy)
    assert harvest_by_source(dataset=running120)["wordnet"]["asked"] > 150
    assert harvest_by_source(dataset=running120)["wordnet"]["rate"] == 50 / 150


def test_questions_follow_the_split_redundancy(chain):
    verify(chain, make_videos(chain, 4, split="train"), "running")
    verify(chain, make_videos(chain, 4, split="val", start=4), "running")
    candidate_round_run(dataset=chain, sources=WORDNET)
    needed = set(Question.objects.filter(dataset=chain).values_list("split", "needed", "max_answers", "state"))
    assert needed == {("train", 3, 9, "open"), ("val", 5, 9, "open")}
    assert Question.objects.filter(dataset=chain).count() == Label.objects.filter(dataset=chain, round=1).count()
    assert not Action.objects.filter(dataset=chain, name="running", synsets=[]).exists()


def test_adaptive_datasets_ask_candidates_the_initial_answers(chain):
    """On an adaptive dataset a candidate question starts at the dataset's initial answers (2 for
    train, 3 for val) and asks more only where workers disagree, as every other question does;
    its cap stays the fixed redundancy or the dataset's maximum."""
    from backend.annotation.services.questions import questions_for_labels

    chain.aggregator, chain.adaptive = "dawid_skene", True
    chain.save(update_fields=["aggregator", "adaptive"])
    verify(chain, make_videos(chain, 4, split="train"), "running")
    verify(chain, make_videos(chain, 4, split="val", start=4), "running")
    candidate_round_run(dataset=chain, sources=WORDNET)
    rows = set(Question.objects.filter(dataset=chain).values_list("split", "needed", "max_answers"))
    assert rows == {("train", chain.initial_answers("train"), 9), ("val", chain.initial_answers("val"), 9)}
    assert (chain.initial_answers("train"), chain.initial_answers("val")) == (2, 3)
    # the same redundancy as questions queued from pending labels
    label = Label.objects.filter(dataset=chain, round=1, video__split="train").first()
    Question.objects.filter(label=label).delete()
    questions_for_labels(dataset=chain, labels=Label.objects.filter(pk=label.pk))
    assert Question.objects.get(label=label).needed == chain.initial_answers("train")


def test_a_pilot_the_cap_held_back_is_completed_before_it_is_judged(running120):
    # One question per video per round: the three pilots (150 videos in all) overlap on some videos.
    policy = RoundPolicy.from_settings(per_video_cap=1)
    candidate_round_run(dataset=running120, sources=WORDNET, policy=policy)
    short = {r.id: labels_of(r).count() for r in Relation.objects.filter(dataset=running120)}
    assert min(short.values()) < 50 == max(short.values())
    decide(running120, lambda label: True)
    candidate_round_run(dataset=running120, sources=WORDNET, policy=policy)
    for rel in Relation.objects.filter(dataset=running120, started_round=1):
        if short[rel.id] == 50:
            assert rel.state == Relation.State.ACTIVE
        else:  # not judged on part of its sample: topped up instead
            assert rel.state == Relation.State.PILOT and short[rel.id] < labels_of(rel).count() <= 50
