"""A worker on the drawing page in a real browser: drag boxes with the mouse (draw, delete, move,
resize, zoom, minimum size, skip), be refused on a missed gold image, fix it, succeed; and on a
phone, preview then draw with a finger."""
from __future__ import annotations

import pytest

from backend.crowd.links import worker_link_token
from backend.crowd.services import worker_get_or_create
from backend.regions.models import Drawing, DrawingAttempt, DrawingItem, DrawingSet, FrameAction
from backend.regions.services.frames import regions_select_frames
from backend.regions.services.gold import region_gold_add
from tests.regions.bench import build_bench, item_truth, to_drawing

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
TOLERANCE = 0.35  # image pixels: mouse positions are rounded to screen pixels, boxes to 0.1 px


@pytest.fixture
def drawing(dataset, clip_factory, settings, tmp_path):
    """Three frames of one action to draw, and one gold image of it (sets of 4: 3 frames + 1 gold)."""
    bench = build_bench(dataset, clip_factory, settings, tmp_path)
    settings.MMIT_REGIONS_SET_SIZE = 4
    settings.MMIT_REGIONS_GOLD_MAX_MISSED = 0  # a strict campaign: the one gold image may not be missed
    counts = {}
    for name, acts in bench["boxes"].items():
        for a in acts:
            counts[a] = counts.get(a, 0) + 1
    action = max((a for a in counts if a != "raining"), key=lambda a: (counts[a], a))
    regions_select_frames(dataset=dataset, per_action=3, actions=[action], seed=0)
    to_drawing(FrameAction.objects.all())
    chosen = set(FrameAction.objects.values_list("frame__video__name", flat=True))
    gold = next(n for n, b in sorted(bench["boxes"].items()) if action in b and n not in chosen)
    region_gold_add(dataset=dataset, video=bench["videos"][gold], action=bench["actions"][action],
                    boxes=bench["boxes"][gold][action])
    return {**bench, "action": action}


def _items(page):
    return page.eval_on_selector_all("#strip .thumb", "bs => bs.map(b => b.dataset.item)")


def _screen(page, x, y):
    """Screen position of an image pixel on the canvas."""
    box = page.locator("#canvas").bounding_box()
    scale = box["width"] / int(page.get_attribute("#canvas", "data-width"))
    return box["x"] + x * scale, box["y"] + y * scale


def _drag(page, start, end, steps=6):
    page.mouse.move(*_screen(page, *start))
    page.mouse.down()
    page.mouse.move(*_screen(page, *end), steps=steps)
    page.mouse.up()


def _boxes(page):
    """The boxes the page holds for the current image, from its accessible box list."""
    texts = page.eval_on_selector_all("#box-list li[data-box] span", "s => s.map(e => e.textContent)")
    out = []
    for t in texts:
        a, b = t.split(": ", 1)[1].split(" – ")
        out.append([float(v) for v in a.split(", ")] + [float(v) for v in b.split(", ")])
    return out


def _close(a, b):
    return len(a) == len(b) and all(abs(x - y) <= TOLERANCE for x, y in zip(a, b))


def _show(page, item):
    page.click(f'#strip .thumb[data-item="{item}"]')
    page.wait_for_function(f'document.getElementById("canvas").dataset.item === "{item}"')


def test_worker_drags_boxes_is_refused_on_gold_then_succeeds(drawing, live_server, page):
    worker = worker_get_or_create(provider="inhouse", external_id="browser-drawer")
    page.goto(f"{live_server.url}/regions/synthetic/?w={worker_link_token(worker=worker)}")
    page.wait_for_selector("#canvas[data-item]")
    assert drawing["action"] in page.inner_text("#task-title")
    items = _items(page)
    assert len(items) == 4 and page.is_disabled("#submit")
    gold = next(i for i in items if DrawingItem.objects.get(public_id=i).gold_id)
    real = [i for i in items if i != gold]
    truth = {i: [list(b) for b in item_truth(i, drawing)] for i in items}

    # zoom: the 64-pixel frame is enlarged to fit; + zooms in, 0 fits again
    fitted = page.locator("#canvas").bounding_box()["width"]
    assert fitted >= 64 * 4
    page.keyboard.press("+")
    assert page.locator("#canvas").bounding_box()["width"] == pytest.approx(fitted * 1.25, abs=2)
    page.keyboard.press("0")
    assert page.locator("#canvas").bounding_box()["width"] == pytest.approx(fitted, abs=1)

    # image 1: a stray box deleted by key, a box too small to keep, then one moved and resized
    _show(page, real[0])
    x0, y0, x1, y1 = truth[real[0]][0]
    _drag(page, (2, 2), (12, 12))
    assert _close(_boxes(page)[0], [2, 2, 12, 12])
    page.keyboard.press("Delete")
    assert _boxes(page) == []
    _drag(page, (30, 30), (31.5, 31.5))
    assert _boxes(page) == [] and "at least 4 pixels" in page.inner_text("#hint")
    _drag(page, (x0 + 4, y0 + 3), (x1 + 4, y1 + 3))  # drawn off target ...
    cx, cy = (x0 + x1) / 2 + 4, (y0 + y1) / 2 + 3
    _drag(page, (cx, cy), (cx - 4, cy - 3))  # ... moved onto it
    assert _close(_boxes(page)[0], [x0, y0, x1, y1])
    _drag(page, (x1, y1), (x1 + 6, y1 + 5))  # resized by its corner handle
    assert _close(_boxes(page)[0], [x0, y0, x1 + 6, y1 + 5])
    _drag(page, (x1 + 6, y1 + 5), (x1, y1))
    assert _close(_boxes(page)[0], [x0, y0, x1, y1])

    # image 2 drawn, image 3 skipped with the key, the gold image boxed in the wrong place
    _show(page, real[1])
    a0, b0, a1, b1 = truth[real[1]][0]
    _drag(page, (a0, b0), (a1, b1))
    there, back, dx = ("Shift+ArrowRight", "Shift+ArrowLeft", 10) if a1 + 10 <= 64 else (
        "Shift+ArrowLeft", "Shift+ArrowRight", -10)
    page.keyboard.press(there)  # the new box is selected: arrows nudge it (Shift: 10 pixels)
    assert _close(_boxes(page)[0], [a0 + dx, b0, a1 + dx, b1])
    page.keyboard.press(back)
    assert _close(_boxes(page)[0], [a0, b0, a1, b1])
    position = items.index(real[1])
    page.keyboard.press("n")
    following = items[min(position + 1, len(items) - 1)]
    page.wait_for_function(f'document.getElementById("canvas").dataset.item === "{following}"')
    _show(page, real[2])
    page.keyboard.press("s")
    assert page.get_attribute(f'#strip .thumb[data-item="{real[2]}"]', "data-state") == "skipped"
    _show(page, gold)
    _drag(page, (0, 0), (8, 8))
    assert page.inner_text("#progress-text") == "4 / 4" and page.is_enabled("#submit")
    page.keyboard.press("Enter")
    page.wait_for_selector('#banner[data-kind="warning"]')
    assert "review every image" in page.inner_text("#banner") and "2 attempts left" in page.inner_text("#banner")
    assert not Drawing.objects.exists() and DrawingAttempt.objects.filter(accepted=False).count() == 1

    # review: the wrong box is selected by a click, deleted with the button, and redrawn right
    _show(page, gold)
    page.mouse.click(*_screen(page, 4, 4))
    page.click("#delete-box")
    g0, h0, g1, h1 = truth[gold][0]
    _drag(page, (g0, h0), (g1, h1))
    page.click("#submit")
    page.wait_for_selector('#banner[data-kind="success"]')
    assert "Thank you" in page.inner_text("#banner")
    assert page.inner_text("#submit") == "Next set"
    drawing_set = DrawingSet.objects.get(worker=worker)
    assert drawing_set.status == "accepted" and drawing_set.attempts == 2
    stored = {str(DrawingItem.objects.get(drawing_set=drawing_set, target=d.target).public_id): d
              for d in Drawing.objects.filter(worker=worker)}
    assert set(stored) == set(real)
    assert _close(stored[real[0]].boxes[0], truth[real[0]][0]) and len(stored[real[0]].boxes) == 1
    assert _close(stored[real[1]].boxes[0], truth[real[1]][0])
    assert stored[real[2]].skipped and stored[real[2]].boxes == []
    assert all(d.duration_ms is not None for d in stored.values())


def test_phone_preview_then_drawing_with_a_finger(drawing, live_server, browser):
    worker = worker_get_or_create(provider="inhouse", external_id="phone-drawer")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        token = worker_link_token(worker=worker)
        page.goto(f"{live_server.url}/regions/synthetic/?w={token}&preview=1")
        page.wait_for_selector("#canvas[data-item]")
        assert "Preview" in page.inner_text("#banner")
        assert page.is_disabled("#submit") and page.is_disabled("#skip")
        assert not DrawingSet.objects.exists()
        assert page.evaluate("document.documentElement.scrollWidth > window.innerWidth") is False

        page.goto(f"{live_server.url}/regions/synthetic/?w={token}")
        page.wait_for_selector("#canvas[data-item]")
        cdp = context.new_cdp_session(page)

        def swipe(start, end, steps=6):
            (sx, sy), (ex, ey) = _screen(page, *start), _screen(page, *end)
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": sx, "y": sy}]})
            for k in range(1, steps + 1):
                x, y = sx + (ex - sx) * k / steps, sy + (ey - sy) * k / steps
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
            # a finger lifts, then taps elsewhere: Chrome reads a tap within its double-tap window
            # after a stroke as part of one gesture and sends no click, as no hand is that fast
            page.wait_for_timeout(400)

        items = _items(page)
        for item in items:
            page.tap(f'#strip .thumb[data-item="{item}"]')
            page.wait_for_function(f'document.getElementById("canvas").dataset.item === "{item}"')
            x0, y0, x1, y1 = item_truth(item, drawing)[0]
            swipe((x0, y0), (x1, y1))
            assert _close(_boxes(page)[0], [x0, y0, x1, y1])
        page.tap("#submit")
        page.wait_for_selector('#banner[data-kind="success"]')
        assert Drawing.objects.filter(worker=worker).count() == 3
    finally:
        context.close()
