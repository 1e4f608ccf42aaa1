"""The dashboard's charts (ECharts, vendored) in Chromium: every chart page draws its charts with axis
labels, legends inside the chart and hover values; the overview's counters and the releases table
follow work done while the page is open."""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from backend.annotation.models import Answer
from backend.candidates.policy import RoundPolicy
from backend.candidates.services import candidate_round_run
from backend.releases.models import Release
from backend.releases.services import release_export
from backend.training.models import ModelRun
from tests.annotation.bench import truth_of
from tests.candidates.conftest import CHAIN_ACTIONS, decide, make_videos, verify

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

SHOTS = Path(os.environ.get("MMIT_SCREENSHOTS", "/tmp/mmit-screenshots"))
PASSWORD = "charts-are-drawn-1"

# every chart in a page: its container, the axis labels it must show, the legend entries it must fit
CHART_STATE = """(el) => {
  const box = el.getBoundingClientRect();
  const texts = [...el.querySelectorAll('svg text')].map((t) => ({ text: t.textContent, r: t.getBoundingClientRect() }));
  return { svg: el.querySelectorAll('svg').length, width: box.width, height: box.height,
           box: { left: box.left, top: box.top, right: box.right, bottom: box.bottom },
           texts: texts.map((t) => ({ text: t.text, left: t.r.left, top: t.r.top, right: t.r.right, bottom: t.r.bottom })) };
}"""


@pytest.fixture(autouse=True)
def _lexical(settings, tmp_path_factory):
    # candidate rounds read WordNet from a cache folder and need no word vectors here
    settings.MMIT_CACHE_DIR = tmp_path_factory.getbasetemp() / "candidates-cache"
    settings.MMIT_VECTORS_PATH = None


@pytest.fixture
def chain(db):
    from backend.videos.services import dataset_create
    from backend.vocabulary.services import vocabulary_load

    dataset = dataset_create(name="chain")
    vocabulary_load(dataset=dataset, names=list(CHAIN_ACTIONS))
    return dataset


@pytest.fixture
def rounds(chain):
    """Two candidate rounds: round 1 pilots three relations of running, round 2 rolls one out."""
    verify(chain, make_videos(chain, 120), "running")
    policy = RoundPolicy.from_settings(per_video_cap=10)
    candidate_round_run(dataset=chain, sources=["wordnet"], policy=policy)
    decide(chain, lambda label: label.action.name == "sprinting")
    candidate_round_run(dataset=chain, sources=["wordnet"], policy=policy)
    decide(chain, lambda label: True, round_number=2)
    return chain


def _runs(dataset) -> None:
    """Two finished model runs with evaluations and training curves (the second has one epoch)."""
    release = Release.objects.create(dataset=dataset, version=1, path="/nowhere/v1", content_hash="0" * 64)
    for k, epochs in enumerate((3, 1)):
        curve = [{"epoch": e + 1, "train_loss": 2.0 / (e + 1), "val_micro_map": 0.2 + 0.1 * e, "val_top1": 0.3 + 0.1 * e}
                 for e in range(epochs)]
        per_class = {name: round(0.9 - 0.07 * i - 0.05 * k, 3) for i, name in enumerate(("running", "sprinting", "jogging"))}
        ModelRun.objects.create(
            dataset=dataset, release=release, config={"model": "i3d_r50", "loss": "wlsep"}, config_hash=str(k),
            status="succeeded", metrics={"epochs": curve, "eval": {"splits": {"val": {
                "top1": 0.4 + 0.1 * k, "top5": 0.7 + 0.05 * k, "micro_map": 0.3 + 0.1 * k, "macro_map": 0.25 + 0.1 * k,
                "per_class_ap": per_class}}}})


def _answer(engine, name: str) -> None:
    from tests.annotation.bench import WorkerClient

    worker = WorkerClient(name)
    payload = worker.assign().json()["set"]
    response = worker.submit(payload["id"], {i["id"]: truth_of(i["id"], engine) for i in payload["items"]})
    assert response.status_code == 200, response.content


def _sign_in(page, live_server, django_user_model):
    django_user_model.objects.create_user(username="curator", password=PASSWORD, is_staff=True, is_superuser=True)
    page.goto(f"{live_server.url}/dashboard/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("h1:has-text('Datasets')")


def _check_charts(page, url: str, shot: str, expected: dict[str, dict]) -> None:
    """Open ``url``, wait for its charts, check each against ``expected`` (by data-source: the axis
    labels and legend entries it must show) and save a screenshot."""
    page.goto(url)
    charts = page.locator(".chart[data-chart]")
    assert charts.count() == len(expected), url
    page.wait_for_function("n => document.querySelectorAll('.chart[data-chart] svg').length >= n", arg=len(expected))
    for i in range(charts.count()):
        el = charts.nth(i)
        source = el.get_attribute("data-source")
        state = el.evaluate(CHART_STATE)
        assert state["svg"] == 1 and state["width"] > 200 and state["height"] > 200, (url, source, state)
        texts = {t["text"] for t in state["texts"]}
        want = expected[source]
        missing = set(want.get("labels", ())) - texts
        assert not missing, (url, source, missing, sorted(texts))
        box = state["box"]
        for t in state["texts"]:
            # nothing the chart writes (axis labels, legend entries, titles) sticks out of its container
            assert (t["left"] >= box["left"] - 1 and t["right"] <= box["right"] + 1
                    and t["top"] >= box["top"] - 1 and t["bottom"] <= box["bottom"] + 1), (url, source, t, box)
        for name in want.get("legend", ()):
            assert name in texts, (url, source, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)


def test_every_chart_page_draws_axes_legends_and_hover_values(engine, rounds, live_server, page, django_user_model):
    _answer(engine, "alice")
    # answers on three days (today, 2 and 3 days ago): the per-day charts label dates, gaps included
    ids = list(Answer.objects.order_by("id").values_list("id", flat=True))
    first = Answer.objects.get(pk=ids[0]).created_at
    Answer.objects.filter(pk__in=ids[:3]).update(created_at=first - timedelta(days=3))
    Answer.objects.filter(pk__in=ids[3:5]).update(created_at=first - timedelta(days=2))
    _runs(rounds)
    runs = list(ModelRun.objects.order_by("pk").values_list("pk", flat=True))
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _sign_in(page, live_server, django_user_model)
    base = f"{live_server.url}/dashboard"
    day = (first - timedelta(days=3)).date().isoformat()

    _check_charts(page, f"{base}/synthetic/", "overview", {
        "per-day": {"labels": {day, "answers"}}, "per-action": {"labels": {"No data yet"}}})  # one worker's answers decide no label yet
    _check_charts(page, f"{base}/chain/", "overview-chain", {
        "per-day": {"labels": set()}, "per-action": {"labels": {"running", "sprinting"}}})
    # round numbers on the x axis; a source or relation seen in one round still shows as a point
    _check_charts(page, f"{base}/chain/candidates/", "candidates", {
        "by-source": {"labels": {"1", "2", "round", "harvest rate"}, "legend": {"wordnet"}},
        "by-relation": {"labels": {"1", "round"}, "legend": {"running -> sprinting (wordnet)"}}})
    _check_charts(page, f"{base}/chain/models/", "models", {
        "over-time": {"labels": {f"#{runs[0]}", f"#{runs[1]}", "run"}, "legend": {"top-1", "micro mAP"}},
        "per-class": {"labels": {"running", "AP"}},
        "per-epoch": {"labels": {"1", "epoch", "loss"}, "legend": {"train loss", "val micro mAP"}}})
    _check_charts(page, f"{base}/chain/models/?run={runs[0]}", "models-3-epochs", {
        "over-time": {"labels": {"run"}}, "per-class": {"labels": {"running"}},
        "per-epoch": {"labels": {"1", "2", "3"}, "legend": {"train loss"}}})
    _check_charts(page, f"{base}/chain/regions/", "regions", {"per-stage": {"labels": {"frame-actions"}}})
    alice = Answer.objects.values_list("worker_id", flat=True).first()
    _check_charts(page, f"{base}/synthetic/workers/{alice}/", "worker", {"per-day": {"labels": {day, "answers"}}})

    # hovering a per-round chart shows the round's values in a tooltip
    page.goto(f"{base}/chain/candidates/")
    chart = page.locator(".chart[data-source=by-source]")
    chart.locator("svg").wait_for()
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    tooltip = chart.locator(".chart-tooltip")
    tooltip.wait_for()
    assert "wordnet" in tooltip.inner_text() and "1" in tooltip.inner_text()
    assert errors == []


def test_overview_counters_and_releases_follow_work_while_open(engine, live_server, page, django_user_model):
    _sign_in(page, live_server, django_user_model)
    page.goto(f"{live_server.url}/dashboard/synthetic/")
    answers = page.locator("#overview-counters [data-count=answers]")
    assert answers.inner_text() == "0"
    _answer(engine, "bob")
    n = Answer.objects.count()
    assert n > 0
    page.wait_for_function("n => document.querySelector('#overview-counters [data-count=answers]').textContent === n",
                           arg=f"{n:,}", timeout=20_000)

    page.goto(f"{live_server.url}/dashboard/synthetic/releases/")
    assert page.locator("tr[data-release]").count() == 0
    release = release_export(dataset=engine["dataset"])
    row = page.locator(f"tr[data-release='{release.version}']")
    row.wait_for(timeout=20_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "releases.png"), full_page=True)
    link = row.locator("a.download")
    assert link.get_attribute("href").endswith(f"/synthetic/releases/{release.version}/download/")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == f"synthetic-v{release.version}.zip"
