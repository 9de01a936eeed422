"""Take the README's screenshots of the portal and the cancellation flow in headless Chromium.

Run against a server with the German demo company (``python3 scripts/dev.py serve --db NAME --port N``):

    python3 scripts/readme_screenshots.py --url http://127.0.0.1:N --out docs/screenshots

It logs in as the demo portal user (anna.mueller), opens the pages, and saves 1200 px wide PNGs reduced to 256 colours
(each under 200 KB). The cancellation is declared for real in that database: use a throwaway one.
"""

import argparse
import base64
import io
import json
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket
from PIL import Image

PORTAL_LOGIN = PORTAL_PASSWORD = "anna.mueller"


class Page:
    """The smallest Chrome DevTools client that navigates, runs JavaScript and takes a screenshot."""

    def __init__(self, port):
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id = 0
        self.call("Page.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )

    def call(self, method, params=None):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True})
        return result.get("result", {}).get("value")

    def wait_for(self, selector, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.evaluate(f"!!document.querySelector({json.dumps(selector)})"):
                return
            time.sleep(0.3)
        raise TimeoutError(f"{selector} not found on {self.evaluate('location.href')}")

    def goto(self, url, selector):
        self.call("Page.navigate", {"url": url})
        time.sleep(0.5)
        self.wait_for(selector)
        time.sleep(1.0)  # fonts and interactions

    def screenshot(self, path, height=None):
        full = self.evaluate("document.documentElement.scrollHeight") or 900
        clip = {"x": 0, "y": 0, "width": 1200, "height": min(height or full, 1400), "scale": 1}
        data = self.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
        image = Image.open(io.BytesIO(base64.b64decode(data["data"]))).convert("RGB")
        image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        image.save(path, optimize=True)
        print(f"{path}: {image.size[0]}x{image.size[1]}, {path.stat().st_size // 1024} KB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="base URL of the running server")
    parser.add_argument("--out", default="docs/screenshots", help="folder for the PNG files")
    parser.add_argument("--subscription", type=int, required=True, help="a running subscription of anna.mueller")
    parser.add_argument("--plan", type=int, required=True, help="another plan of its family (change preview)")
    parser.add_argument("--family", type=int, required=True, help="plan family of the pricing page")
    parser.add_argument("--cancel-subscription", type=int, help="the subscription the cancellation form declares")
    parser.add_argument("--lang", default="de", help="URL language prefix of the cancellation pages")
    parser.add_argument("--port", type=int, default=9555, help="Chromium's DevTools port")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = args.url.rstrip("/")
    with tempfile.TemporaryDirectory() as profile:
        chromium = subprocess.Popen(
            [
                "chromium",
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--remote-debugging-port={args.port}",
                "--remote-allow-origins=*",
                f"--user-data-dir={profile}",
                "--window-size=1200,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(2)
            page = Page(args.port)
            page.goto(f"{base}/subscribe/{args.family}?currency=EUR", ".o_subscription_pricing_plan")
            page.screenshot(out / "pricing_page.png", height=800)
            page.goto(f"{base}/web/login", "input[name=login]")
            page.evaluate(
                f"document.querySelector('input[name=login]').value = {json.dumps(PORTAL_LOGIN)};"
                f"document.querySelector('input[name=password]').value = {json.dumps(PORTAL_PASSWORD)};"
                "document.querySelector('form.oe_login_form').submit();"
            )
            time.sleep(2)
            sub = f"{base}/my/subscriptions/{args.subscription}"
            page.goto(sub, "#subscription_payment_method")
            page.screenshot(out / "portal_subscription.png")
            page.goto(
                f"{sub}/change?plan_id={args.plan}&timing=immediate",
                ".o_subscription_change_preview, .o_subscription_change_preview_error",
            )
            page.screenshot(out / "portal_change_preview.png", height=900)
            page.goto(f"{sub}/payment-method", "#o_payment_form input[name=customer_input]")
            page.evaluate("document.querySelector('input[name=o_payment_radio]')?.click()")
            time.sleep(1)
            page.screenshot(out / "portal_payment_method.png", height=800)
            prefix = f"/{args.lang}" if args.lang else ""
            page.goto(f"{base}{prefix}/vertraege-kuendigen", "button.o_subscription_cancel_now")
            if args.cancel_subscription:
                page.evaluate(f"document.querySelector('#subscription_id').value = '{args.cancel_subscription}'")
            page.screenshot(out / "cancellation_form.png")
            page.evaluate("document.querySelector('button.o_subscription_cancel_now').click()")
            time.sleep(2)
            page.wait_for("button[onclick='window.print()']")
            page.screenshot(out / "cancellation_receipt.png")
        finally:
            chromium.terminate()
            chromium.wait(timeout=10)


if __name__ == "__main__":
    main()
