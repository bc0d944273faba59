"""`make screenshots`: the console's main screens in both themes, for the README.

From a seeded server on a SQLite file of its own, at 1280x800, with animations off and the
page's clock fixed just after the seeding, so that the same code gives the same pictures
(up to the server's own clock in the numbers). Not a test, and not run in CI; look at each
picture before committing it.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server, zip_bytes
from tests.ui.conftest import ADMIN_LOGIN, ADMIN_PASSWORD, CHROMIUM, SCHEMES, deploy

FUNCTIONS = ("hello", "orders-api", "resize-images", "send-invoices", "nightly-report")
BROKEN = {"main.py": "import not_installed\n\ndef handler(event, context):\n    return 1\n"}
ORDERS_V2 = {
    "main.py": (
        "import json\n\n\n"
        "def handler(event, context):\n"
        "    order = event or {}\n"
        "    print(f\"order {order.get('id')} for {order.get('customer', 'nobody')}\")\n"
        "    if order.get('id') == 0:\n"
        "        raise ValueError('an order needs an id')\n"
        "    return {'accepted': order.get('id'), 'items': len(order.get('items', []))}\n"
    ),
    "requirements.txt": "",
}


@dataclass(frozen=True)
class Shot:
    name: str
    path: str
    ready: str  # a CSS selector or text= locator that is there once the page has loaded
    act: Callable[[Page], None] | None = None  # what to do on the page before the picture


def _invoke_saved_event(page: Page) -> None:
    page.get_by_label("Saved events").select_option("an order")
    page.get_by_role("button", name="Invoke", exact=True).click()
    page.locator("main .outcome table").first.wait_for()


SHOTS = (
    Shot("functions", "/functions", "main tbody tr >> nth=5"),
    Shot("code", "/functions/orders-api/code", ".cm-content"),
    Shot("test", "/functions/orders-api/test", "main textarea", _invoke_saved_event),
    Shot("invocations", "/functions/orders-api/invocations", "main tbody tr"),
    Shot("metrics", "/functions/orders-api/metrics", "main canvas"),
    Shot("versions", "/functions/orders-api/versions?version=2", "main table"),
    Shot("settings", "/settings/keys", "main table"),
    Shot("operator", "/operator/pool", "main table"),
)


def _seed(server: LiveServer) -> datetime:
    deploy(server, FUNCTIONS)
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    ) as client:
        client.post(
            "/api/v1/functions",
            data={"name": "image-tagger"},
            files={"code": ("code.zip", zip_bytes(BROKEN), "application/zip")},
        )
        client.put(
            "/api/v1/functions/orders-api",
            data={"env": '{"REGION": "eu-west"}'},
            files={"code": ("code.zip", zip_bytes(ORDERS_V2), "application/zip")},
        )
        for number in range(40):
            order = {"id": number % 13, "customer": "ada", "items": [1] * (number % 4)}
            client.post("/api/v1/functions/orders-api/invoke", json=order)
        for name in FUNCTIONS[:3]:
            client.post(f"/api/v1/functions/{name}/invoke", json={})
        client.put(
            "/api/v1/functions/orders-api/test-events/an order",
            json={"event": {"id": 7, "customer": "ada", "items": [1, 2]}},
        )
        client.post("/api/v1/keys", json={"name": "ci-deploys", "role": "developer"})
        client.put("/api/v1/secrets/STRIPE_KEY", json={"value": "sk_test_not_a_real_one"})
        items = client.get("/api/v1/functions").json()["items"]
    return max(datetime.fromisoformat(item["updated_at"]) for item in items)


def _sign_in(page: Page) -> None:
    page.get_by_label("User name").fill(ADMIN_LOGIN)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Functions").wait_for()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sandlot-screenshots-") as tmp:
        server = start_server(
            Path(tmp) / "data", {"SANDLOT_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD}
        )
        try:
            newest = _seed(server)
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
                    _sign_in(page)
                    for shot in SHOTS:
                        page.goto(f"{server.url}/ui{shot.path}")
                        page.locator(shot.ready).first.wait_for()
                        if shot.act:
                            shot.act(page)
                        page.screenshot(path=out / f"{shot.name}-{scheme}.png")
                    page.close()
                browser.close()
        finally:
            stop_server(server)
    print(f"screenshots in {out}: look at each before committing")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
