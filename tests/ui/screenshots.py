"""`make screenshots`: the console's main screens in both themes, for the README.

From a seeded server on a SQLite file of its own, at 1280x800, with animations off and the
page's clock fixed just after the last deploy, so that the same code gives the same
pictures. Not a test, and not run in CI; look at each picture before committing it.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from tests.conftest import ADMIN_KEY, start_server, stop_server, zip_bytes
from tests.ui.conftest import ADMIN_LOGIN, ADMIN_PASSWORD, CHROMIUM, SCHEMES, deploy

FUNCTIONS = ("hello", "orders-api", "resize-images", "send-invoices", "nightly-report")
BROKEN = {"main.py": "import not_installed\n\ndef handler(event, context):\n    return 1\n"}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sandlot-screenshots-") as tmp:
        server = start_server(
            Path(tmp) / "data", {"SANDLOT_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD}
        )
        try:
            deploy(server, FUNCTIONS)
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
            ) as client:
                client.post(
                    "/api/v1/functions",
                    data={"name": "image-tagger"},
                    files={"code": ("code.zip", zip_bytes(BROKEN), "application/zip")},
                )
                items = client.get("/api/v1/functions").json()["items"]
            newest = max(datetime.fromisoformat(item["updated_at"]) for item in items)
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM)
                for scheme in SCHEMES:
                    page = browser.new_page(
                        color_scheme=scheme,
                        viewport={"width": 1280, "height": 800},
                        reduced_motion="reduce",
                    )
                    page.clock.set_fixed_time(newest + timedelta(minutes=3))
                    page.goto(f"{server.url}/ui/functions")
                    page.get_by_role("button", name="Sign in").wait_for()
                    page.screenshot(path=out / f"sign-in-{scheme}.png")
                    page.get_by_label("User name").fill(ADMIN_LOGIN)
                    page.get_by_label("Password").fill(ADMIN_PASSWORD)
                    page.get_by_role("button", name="Sign in").click()
                    page.locator("main tbody tr").nth(len(FUNCTIONS)).wait_for()
                    page.screenshot(path=out / f"functions-{scheme}.png")
                    page.close()
                browser.close()
        finally:
            stop_server(server)
    print(f"screenshots in {out}: look at each before committing")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
