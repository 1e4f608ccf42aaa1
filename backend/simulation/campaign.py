"""Whole rounds of the annotation loop with simulated workers acting through the HTTP API.

Each round: pending labels become questions, gold is curated from the truth for the actions in
play (as a curator would), the workers take sets until nobody gets more work (abandoned sets
expire and come back), the dataset is re-aggregated when its strategy is probabilistic, and the
candidate sources propose the next round's pairs.
"""
from __future__ import annotations

import heapq
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

import urllib3
from django.db import close_old_connections, connection
from django.utils import timezone

from backend.annotation.models import GoldQuestion, Prompt, Question, TaskSet
from backend.annotation.services.assign import tasksets_expire
from backend.annotation.services.consensus import dataset_reaggregate, questions_sweep
from backend.annotation.services.gold import gold_add
from backend.annotation.services.questions import questions_for_labels
from backend.crowd.links import worker_link_token
from backend.crowd.services import worker_get_or_create
from backend.simulation.client import ApiClient
from backend.simulation.population import Group, SimWorker, make_workers
from backend.simulation.report import RoundSnapshot, snapshot
from backend.simulation.truth import content_key
from backend.videos.models import Dataset, Video
from backend.vocabulary.models import Action


@dataclass
class CampaignResult:
    rounds: list[dict] = field(default_factory=list)
    total: dict = field(default_factory=dict)


class Campaign:
    def __init__(self, *, dataset: Dataset, truth: dict[str, set[str]], groups: list[Group], seed: int,
                 concurrency: int, base_url: str, gold_per_action: int = 8, reward: float = 0.10, fee: float = 0.20,
                 candidate_sources: list[str] | None = None, log: Callable[[str], None] = print,
                 retrain_config: dict | None = None) -> None:
        self.dataset = dataset
        self.truth = truth
        self.groups = groups
        self.seed = seed
        self.concurrency = max(1, concurrency)
        self.base_url = base_url
        self.gold_per_action = gold_per_action
        self.reward, self.fee = reward, fee
        self.candidate_sources = candidate_sources
        self.log = log
        self.rng = random.Random(seed)
        self.pool = urllib3.PoolManager(maxsize=self.concurrency * 2, block=True)
        # A fresh population per invocation: workers are global, and a worker blocked in an earlier
        # simulation must not start this one blocked.
        stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
        self.workers = make_workers(groups, seed=seed, run=f"sim-{dataset.name}-{stamp}")
        self.clients: dict[str, ApiClient] = {}
        self.truth_by_video = self._truth_by_video()
        self.by_content = {
            checksum: vid for vid, checksum in Video.objects.filter(dataset=dataset, status=Video.Status.OK)
            .values_list("id", "checksum")
        }
        self.action_names = dict(Action.objects.filter(dataset=dataset).values_list("name", "name"))
        self.errors = 0
        # --retrain: a small model trained after every round, so the model source proposes (retrain.py)
        self.retrainer = None
        if retrain_config is not None:
            from backend.simulation.retrain import Retrainer

            self.retrainer = Retrainer(dataset=dataset, truth_by_video=self.truth_by_video, config=retrain_config,
                                       seed=seed)

    def _truth_by_video(self) -> dict[int, set[str]]:
        out = {}
        for vid, name, source in Video.objects.filter(dataset=self.dataset, status=Video.Status.OK).values_list(
                "id", "name", "source"):
            if name in self.truth:
                out[vid] = self.truth[name]
            else:
                match = next((k for k in self.truth if source.endswith("/" + k.lstrip("/"))), None)
                if match is not None:
                    out[vid] = self.truth[match]
        return out

    # -- setup a curator would do -------------------------------------------------------------
    def register_workers(self) -> None:
        for w in self.workers:
            worker = worker_get_or_create(provider="inhouse", external_id=w.name, group=w.group.name)
            self.clients[w.name] = ApiClient(base_url=self.base_url, token=worker_link_token(worker=worker),
                                             pool=self.pool)

    def curate_gold(self) -> int:
        """Gold for every action with open questions, half positives and half negatives."""
        in_play = set(Question.objects.filter(dataset=self.dataset, prompt=Prompt.SEEN_OR_HEARD,
                                              state=Question.State.OPEN).values_list("action_id", flat=True))
        have = {}
        for aid in GoldQuestion.objects.filter(dataset=self.dataset, active=True, action_id__in=in_play).values_list(
                "action_id", flat=True):
            have[aid] = have.get(aid, 0) + 1
        videos = sorted(self.truth_by_video)
        created = 0
        for action in Action.objects.filter(pk__in=in_play).order_by("name"):
            need = self.gold_per_action - have.get(action.pk, 0)
            if need <= 0:
                continue
            rng = random.Random(f"{self.seed}-{action.name}")
            pos = [v for v in videos if action.name in self.truth_by_video[v]]
            neg = [v for v in videos if action.name not in self.truth_by_video[v]]
            rng.shuffle(pos)
            rng.shuffle(neg)
            picks = [(v, True) for v in pos[: (need + 1) // 2]] + [(v, False) for v in neg[: need // 2]]
            for vid, truth in picks:
                gold_add(dataset=self.dataset, video=Video.objects.get(pk=vid), action=action, truth=truth,
                         note="simulator: from the truth file")
                created += 1
        return created

    # -- one simulated worker doing one set ------------------------------------------------------
    def _truth_of_media(self, data: bytes, action: str) -> bool:
        vid = self.by_content.get(content_key(data))
        return vid is not None and action in self.truth_by_video.get(vid, set())

    def work_one_set(self, w: SimWorker) -> str:
        """Returns "done", "idle" (no work), "blocked" or "abandoned"."""
        client = self.clients[w.name]
        r = client.assign(self.dataset.name)
        if r.status == 403:
            return "blocked"
        if r.status != 200 or not r.data:
            self.errors += 1
            return "idle"
        payload = r.data.get("set")
        if not payload:
            return "idle"
        action = payload["action"]["name"]
        truths = {item["id"]: self._truth_of_media(client.media(item["media_url"]), action)
                  for item in payload["items"]}
        per = w.seconds_per_answer() * 1000
        durations = {k: int(per * w.rng.uniform(0.6, 1.4)) for k in truths}
        w.clock += len(truths) * w.seconds_per_answer() / 60
        if w.abandons():
            return "abandoned"
        answers = {k: w.answer(t) for k, t in truths.items()}
        while True:
            res = client.submit(payload["id"], answers, durations)
            status = (res.data or {}).get("status")
            if res.status == 200:
                return "done"
            if res.status == 422 and status == "refused":
                # review: the worker looks at every clip again
                answers = {k: w.answer(t) for k, t in truths.items()}
                continue
            if res.status == 403:
                return "blocked"
            return "done"  # failed set, expired set: nothing more to do with it

    # -- the pool of simulated workers ----------------------------------------------------------
    def work_until_idle(self) -> int:
        """Workers take sets (K at a time, the least busy first) until no one gets work."""
        done_sets = 0
        while True:
            heap = [(w.clock, i) for i, w in enumerate(self.workers)]
            heapq.heapify(heap)
            lock = threading.Lock()
            idle: set[int] = set()
            progress = [0]

            def run():
                try:
                    while True:
                        with lock:
                            if not heap:
                                return
                            _, i = heapq.heappop(heap)
                        w = self.workers[i]
                        outcome = self.work_one_set(w)
                        with lock:
                            if outcome in ("done", "abandoned"):
                                progress[0] += outcome == "done"
                                heapq.heappush(heap, (w.clock, i))
                            else:
                                idle.add(i)
                finally:
                    close_old_connections()
                    connection.close()

            threads = [threading.Thread(target=run) for _ in range(self.concurrency)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            done_sets += progress[0]
            # the clock moves on: abandoned sets time out and their questions come back, and
            # questions held back while reliabilities were uncertain are looked at again
            expired = tasksets_expire(now=timezone.now() + timedelta(days=1))
            swept = questions_sweep(dataset=self.dataset)
            if not expired and not swept:
                return done_sets

    # -- rounds ---------------------------------------------------------------------------------
    def run(self, rounds: int) -> CampaignResult:
        from backend.simulation.report import round_metrics, total_metrics

        self.register_workers()
        result = CampaignResult()
        previous: RoundSnapshot = snapshot(self.dataset)
        for number in range(1, rounds + 1):
            started = time.monotonic()
            stages: dict[str, float] = {}  # seconds spent in each stage of this round
            clock = [started]

            def stage(name: str) -> None:
                now = time.monotonic()
                stages[name] = round(stages.get(name, 0.0) + now - clock[0], 2)
                clock[0] = now

            queued = questions_for_labels(dataset=self.dataset)
            gold = self.curate_gold()
            stage("questions")
            sets = self.work_until_idle()
            stage("crowd")
            reaggregated = None
            if self.dataset.aggregator == "dawid_skene":
                reaggregated = dataset_reaggregate(dataset=self.dataset)
            stage("aggregate")
            current = snapshot(self.dataset)
            metrics = round_metrics(dataset=self.dataset, truth=self.truth_by_video, before=previous, after=current,
                                    reward=self.reward, fee=self.fee)
            stage("report")
            if self.retrainer is not None:
                retrained = self.retrainer.round()
                metrics["model"] = retrained["model"]
                stages.update({f"retrain_{k}": v for k, v in retrained["seconds"].items()})
                stage("retrain")
            proposed = self.propose_candidates() if number < rounds else {}
            stage("propose")
            metrics.update(round=number, questions_queued=queued, gold_added=gold, sets_done=sets,
                           seconds=round(time.monotonic() - started, 2), stage_seconds=stages,
                           candidates_proposed=proposed, reaggregation=reaggregated)
            result.rounds.append(metrics)
            model = metrics.get("model")
            self.log(f"round {number}: {sets} sets, {metrics['answers']} answers, "
                     f"{metrics['verified_positive']} new positives, proposed {_proposed_summary(proposed)}"
                     + (f"; model micro mAP {model['micro_map']:.3f} on {model['held_out_videos']} held-out videos"
                        if model else ""))
            previous = current
        result.total = total_metrics(dataset=self.dataset, truth=self.truth_by_video, groups=self.groups,
                                     workers=self.workers, reward=self.reward, fee=self.fee)
        result.total["http_errors"] = self.errors
        return result

    def propose_candidates(self) -> dict:
        """The next round's pairs from whatever candidate sources the platform has."""
        try:
            from backend.candidates.services import candidate_round_run
        except ImportError:
            return {}
        round_ = candidate_round_run(dataset=self.dataset, sources=self.candidate_sources)
        sources = (getattr(round_, "stats", None) or {}).get("sources", {})
        return {source: info["proposed"] for source, info in sources.items() if info.get("proposed")}


def _proposed_summary(proposed: dict[str, int]) -> str:
    """``model 3, wordnet 12`` from a round's proposals per source."""
    return ", ".join(f"{source} {count}" for source, count in sorted(proposed.items())) or "nothing"


def sets_before_block(worker_id: int) -> int:
    return TaskSet.objects.filter(worker_id=worker_id).count()
