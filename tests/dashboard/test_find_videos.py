"""Finding a video (issue 18, item 6): the dashboard's search box and ``?q=`` on the API's video list
take a video id or the start of a name (any case); one match opens the video, several are listed (at most 50).
The workers list and the disagreement queue download as CSV too."""
from __future__ import annotations

import csv
import io

import pytest

from backend.labels.models import Label
from backend.videos.models import Video
from backend.videos.selectors import SEARCH_LIMIT, video_search

pytestmark = pytest.mark.django_db


@pytest.fixture
def videos(dataset):
    names = ["beach_run.mp4", "beach_walk.mp4", "Beach_dog.mp4", "city_50%_off.mp4", "city_500.mp4", "yt_AbC12.mp4"]
    return {v.name: v for v in Video.objects.bulk_create([
        Video(dataset=dataset, source=f"/x/{n}", name=n, storage_key=f"videos/{n}", checksum=n) for n in names])}


@pytest.fixture
def curator(client, staff_user):
    client.force_login(staff_user)
    return client


def test_search_by_prefix_id_and_nothing(dataset, videos):
    assert [v.name for v in video_search(dataset=dataset, q="beach_")] == ["Beach_dog.mp4", "beach_run.mp4",
                                                                            "beach_walk.mp4"]
    assert [v.name for v in video_search(dataset=dataset, q="YT_abc")] == ["yt_AbC12.mp4"]  # any case
    assert [v.name for v in video_search(dataset=dataset, q="city_50%")] == ["city_50%_off.mp4"]  # % is literal
    target = videos["yt_AbC12.mp4"]
    assert video_search(dataset=dataset, q=f" {target.pk} ") == [target]
    assert video_search(dataset=dataset, q="") == [] and video_search(dataset=dataset, q="zebra") == []


def test_search_stays_within_the_dataset_and_the_limit(dataset, videos):
    from backend.videos.services import dataset_create

    other = dataset_create(name="other")
    elsewhere = Video.objects.create(dataset=other, source="/y/beach_x.mp4", name="beach_x.mp4")
    assert "beach_x.mp4" not in [v.name for v in video_search(dataset=dataset, q="beach")]
    assert video_search(dataset=dataset, q=str(elsewhere.pk)) == []
    Video.objects.bulk_create([Video(dataset=dataset, source=f"/x/many{i}", name=f"many{i:03d}.mp4")
                               for i in range(SEARCH_LIMIT + 5)])
    found = video_search(dataset=dataset, q="many")
    assert len(found) == SEARCH_LIMIT and found[0].name == "many000.mp4"


def test_one_match_opens_the_video_and_several_are_listed(curator, dataset, videos):
    one = curator.get("/dashboard/synthetic/search/", {"q": "yt_A"})
    assert one.status_code == 302 and one["Location"] == f"/dashboard/synthetic/videos/{videos['yt_AbC12.mp4'].pk}/"
    several = curator.get("/dashboard/synthetic/search/", {"q": "beach"})
    page = several.content.decode()
    assert several.status_code == 200 and "3 videos of synthetic match “beach”" in page
    assert f'href="/dashboard/synthetic/videos/{videos["beach_walk.mp4"].pk}/"' in page
    none = curator.get("/dashboard/synthetic/search/", {"q": "<zebra>"}).content.decode()
    assert "No video of synthetic has the id or a name starting with “&lt;zebra&gt;”" in none
    # the box is in every dataset page's header
    assert 'action="/dashboard/synthetic/search/"' in curator.get("/dashboard/synthetic/labels/").content.decode()


def test_the_api_searches_with_q(staff_client, dataset, videos):
    body = staff_client.get("/api/datasets/synthetic/videos/", {"q": "beach_"}).json()
    assert [r["name"] for r in body["results"]] == ["Beach_dog.mp4", "beach_run.mp4", "beach_walk.mp4"]
    assert body["count"] == 3
    assert staff_client.get("/api/datasets/synthetic/videos/", {"q": ""}).json()["results"] == []
    listing = staff_client.get("/api/datasets/synthetic/videos/").json()  # without q: the keyset list
    assert listing["count"] == len(videos)
    assert staff_client.get("/api/datasets/nope/videos/", {"q": "a"}).status_code == 404


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_workers_and_disagreements_download_as_csv(curator, engine, make_worker):
    from tests.annotation.bench import is_gold, truth_of

    for name in ("ann", "bob", "cid"):  # bob says the opposite of the truth, except on gold
        worker = make_worker(name)
        while (payload := worker.assign().json()["set"]) is not None:
            worker.submit(payload["id"], {i["id"]: truth_of(i["id"], engine) != (name == "bob" and not is_gold(i["id"]))
                                          for i in payload["items"]})
    workers = _csv(curator.get("/dashboard/synthetic/workers/export.csv"))
    assert {r["external_id"] for r in workers} == {"ann", "bob", "cid"}
    assert all(int(r["answers"]) > 0 for r in workers)
    page = curator.get("/dashboard/synthetic/workers/").content.decode()
    assert 'href="/dashboard/synthetic/workers/export.csv"' in page
    queue = _csv(curator.get("/dashboard/synthetic/review/export.csv", {"action": "jumping"}))
    decided = Label.objects.filter(dataset=engine["dataset"], state__in=("positive", "negative", "ambiguous"))
    assert len(queue) == decided.count() > 0
    assert {v.split(":")[0] for r in queue for v in r["votes"].split(";")} == {"ann", "bob", "cid"}
    assert all(r["yes"] != "0" and r["no"] != "0" for r in queue)  # bob split every vote
    bad = curator.get("/dashboard/synthetic/review/export.csv", {"worker": "x"})
    assert bad.status_code == 302 and bad["Location"] == "/dashboard/synthetic/review/"
