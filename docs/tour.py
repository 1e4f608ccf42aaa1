"""The README's Tour screenshots, taken from a running demo in headless Chromium.

    make demo                      # in one terminal (or make demo PORT=8123 and --base-url below)
    .venv/bin/python docs/tour.py  # in another: writes docs/tour/*.png

It reads what the demo made (the curator's password under MMIT_VAR_DIR, the annotator's link)
through the platform's own settings, so run it with the demo's environment.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "tour"
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the running demo (default: %(default)s)")
    parser.add_argument("--dataset", default="demo", help="the demo's dataset (default: %(default)s)")
    parser.add_argument("--chromium", default=os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium"))
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    from backend.crowd.links import worker_link_token
    from backend.crowd.models import Worker
    from backend.simulation.demo import CURATOR, PASSWORD_FILE

    password = (Path(settings.VAR_DIR) / PASSWORD_FILE).read_text().strip()
    annotator = Worker.objects.get(provider="inhouse", external_id="demo-annotator")
    base = args.base_url.rstrip("/")
    link = f"{base}/annotate/{args.dataset}/?w={worker_link_token(worker=annotator)}"
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{base}/dashboard/")  # signed out: the sign-in page first
        page.fill("#id_username", CURATOR)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/dashboard/")
        page.goto(f"{base}/dashboard/{args.dataset}/")
        page.locator(".chart svg").first.wait_for()
        page.screenshot(path=OUT / "overview.png", full_page=True)
        page.goto(f"{base}/dashboard/{args.dataset}/labels/?state=positive")
        page.screenshot(path=OUT / "labels.png")
        page.goto(link)
        page.locator(".card video").first.wait_for()
        for key in "yyn":  # a few answers, by keyboard, so the page shows its states
            page.keyboard.press(key)
        page.wait_for_timeout(1500)  # the first frames of the clips
        page.screenshot(path=OUT / "annotator.png")
        browser.close()
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.png')))} in {OUT}")


if __name__ == "__main__":
    main()
