"""Finding things and definitions in Chromium (issue 18, items 6 and 8): a curator searches a video
from the header and lands on it, filters the label browser by confidence and downloads the CSV;
annotators see an action's generated definition, marked as from WordNet, on the Yes/No and the
drawing pages."""
from __future__ import annotations

import csv
import io

import pytest

from backend.crowd.links import worker_link_token
from backend.crowd.services import worker_get_or_create
from backend.labels.models import Label
from backend.videos.models import Video
from backend.vocabulary.models import Action
from tests.browser.test_regions_page import drawing  # noqa: F401  (the drawing page's fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SHOTS = "/tmp/h3"
JUMP = "Move forward by leaps and bounds"


def _sign_in(page, live_server, django_user_model, url):
    django_user_model.objects.create_user(username="curator", password="find-the-clips-1", is_staff=True,
                                          is_superuser=True)
    page.goto(f"{live_server.url}{url}")
    page.fill("#id_username", "curator")
    page.fill("#id_password", "find-the-clips-1")
    page.click("input[type=submit]")


def test_curator_finds_a_video_filters_labels_and_downloads_csv(dataset, live_server, page, django_user_model):
    jumping = dataset.actions.get(name="jumping")
    videos = Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/x/beach_{i}.mp4", name=f"beach_{i:02d}.mp4",
              storage_key=f"videos/beach_{i}.mp4", checksum=f"c{i}") for i in range(12)])
    confidences = [None, 0.51, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 0.52, 0.58, None]
    Label.objects.bulk_create([
        Label(dataset=dataset, video=v, action=jumping, asked_action=jumping, source="initial",
              state="pending" if c is None else "positive", confidence=c, yes_count=0 if c is None else 2,
              no_count=0 if c is None else 1) for v, c in zip(videos, confidences)])
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    _sign_in(page, live_server, django_user_model, "/dashboard/synthetic/labels/")
    page.wait_for_selector("h1:has-text('Label browser')")

    # several matches are listed; a full name lands on the video
    page.fill("header form.search input[name=q]", "BEACH_0")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Find a video')")
    assert page.locator("ul.found li").count() == 10
    page.screenshot(path=f"{SHOTS}/search_list.png", full_page=True)
    page.fill("header form.search input[name=q]", "beach_07")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('beach_07.mp4')")
    assert page.url.endswith(f"/dashboard/synthetic/videos/{videos[7].pk}/")

    # the label browser, filtered by a confidence range, least confident first
    page.click("nav a:has-text('Labels')")
    page.fill("input[name=confidence_min]", "0.5")
    page.fill("input[name=confidence_max]", "0.6")
    page.select_option("select[name=sort]", "confidence")
    page.click("button:has-text('Filter')")
    page.wait_for_selector("text=5 labels match, least confident first")
    shown = page.eval_on_selector_all("tr[data-label] td:first-child", "tds => tds.map(td => td.textContent)")
    assert shown == ["beach_01.mp4", "beach_09.mp4", "beach_02.mp4", "beach_10.mp4", "beach_03.mp4"]
    page.screenshot(path=f"{SHOTS}/labels_filtered.png", full_page=True)
    with page.expect_download() as caught:
        page.click("a.download")
    download = caught.value
    assert download.suggested_filename == "synthetic-labels.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert [r["video"] for r in rows] == shown
    assert [float(r["confidence"]) for r in rows] == [0.51, 0.52, 0.55, 0.58, 0.6]
    assert errors == []


def test_the_yes_no_page_shows_a_generated_definition(engine, live_server, page):
    Action.objects.filter(pk=engine["action"].pk).update(definition=JUMP, definition_generated=True)
    worker = worker_get_or_create(provider="inhouse", external_id="definition-reader")
    page.goto(f"{live_server.url}/annotate/synthetic/?w={worker_link_token(worker=worker)}")
    page.wait_for_selector(".card video")
    assert page.inner_text("#task-definition") == f"{JUMP} from WordNet"
    marker = page.locator("#task-definition .definition-source")
    assert marker.inner_text() == "from WordNet" and "WordNet" in marker.get_attribute("title")
    page.screenshot(path=f"{SHOTS}/annotate_definition.png")
    # a curator's own definition carries no marker
    Action.objects.filter(pk=engine["action"].pk).update(definition="Both feet leave the ground.",
                                                         definition_generated=False)
    page.reload()
    page.wait_for_selector(".card video")
    assert page.inner_text("#task-definition") == "Both feet leave the ground."
    assert page.locator("#task-definition .definition-source").count() == 0


def test_the_drawing_page_shows_a_generated_definition(drawing, live_server, page):  # noqa: F811
    action = drawing["actions"][drawing["action"]]
    Action.objects.filter(pk=action.pk).update(definition="Travel through the air", definition_generated=True)
    worker = worker_get_or_create(provider="inhouse", external_id="definition-drawer")
    page.goto(f"{live_server.url}/regions/synthetic/?w={worker_link_token(worker=worker)}")
    page.wait_for_selector("#canvas[data-item]")
    assert page.inner_text("#task-definition") == "Travel through the air from WordNet"
    page.screenshot(path=f"{SHOTS}/draw_definition.png")
