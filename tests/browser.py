"""A headless Chromium driven over the DevTools protocol on a pipe: load a page, read it back.

Chromium is started with `--remote-debugging-pipe`: it reads the protocol's commands on file
descriptor 3 and writes answers and events on 4, each a JSON text ending with a NUL byte
(no port, no websocket library). `load` opens a page in a fresh tab and returns what the
tests look at: every console error, uncaught exception and failed load the page caused, every
request it made other than its own file, the page's `data-field` values and texts, and a
PNG screenshot of the whole page.

`chromium_path()` finds Debian's `chromium`, installing it with apt-get when it is missing
and this process may (root, apt-get present); otherwise it says why it cannot, for the
tests to skip with that reason.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The fields of every element carrying a figure, with its visible text.
READ_FIELDS = """JSON.stringify(Array.from(document.querySelectorAll('[data-field]')).map(e => ({
    field: e.dataset.field, customer: e.dataset.customer ?? null,
    value: e.dataset.value, text: e.textContent})))"""
WIDTH = 1000
TIMEOUT = 60


def chromium_path() -> tuple[str | None, str]:
    """Chromium's executable, or None and why there is none (the tests skip with it)."""
    found = shutil.which("chromium")
    if found:
        return found, ""
    if shutil.which("apt-get") is None:
        return None, "chromium is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return None, "chromium is not installed; as root: apt-get install chromium"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    found = shutil.which("chromium")
    if found:
        return found, ""
    lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
    return None, f"apt-get could not install chromium: {lines[-1]}"


@dataclass
class Page:
    """What a page did and showed once loaded."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)
    screenshot: bytes = b""
    charts: int = 0


class Browser:
    """One headless Chromium; `with Browser(path) as browser: page = browser.load(file)`."""

    def __init__(self, executable: str) -> None:
        self._profile = tempfile.TemporaryDirectory()
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def on_fds_3_and_4() -> None:
            os.dup2(commands_read, 3)
            os.dup2(answers_write, 4)

        arguments = [
            executable,
            "--headless",
            "--remote-debugging-pipe",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={self._profile.name}",
        ]
        if os.geteuid() == 0:
            arguments.append("--no-sandbox")  # Chromium refuses to run as root sandboxed
        self._process = subprocess.Popen(  # noqa: S603
            [*arguments, "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=on_fds_3_and_4,  # noqa: PLW1509 - only dup2, before exec
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(answers_write)
        self._inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._send("Browser.close")
        except (OSError, TimeoutError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        os.close(self._commands)
        self._profile.cleanup()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._answers, "rb", buffering=0) as answers:
            while chunk := answers.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._inbox.put(json.loads(message))

    def _send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Send a command and wait for its answer, keeping the events that come meanwhile."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            received = self._inbox.get(timeout=TIMEOUT)
            if received.get("id") == self._next_id:
                if "error" in received:
                    raise RuntimeError(f"{method}: {received['error']}")
                return received.get("result", {})
            if events is not None and "method" in received:
                events.append(received)

    def _wait_for(self, method: str, events: list[dict[str, Any]]) -> None:
        while not any(event["method"] == method for event in events):
            events.append(self._inbox.get(timeout=TIMEOUT))

    def load(self, path: Path, *, height: int | None = None, scale: float = 1) -> Page:
        """Open `path` in a new tab; what it logged, fetched and shows, and its screenshot.

        The screenshot is of the whole page, or of its first `height` pixels; `scale` below
        1 makes a smaller picture (for the README).
        """
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        events: list[dict[str, Any]] = []
        for domain in ("Runtime", "Log", "Network", "Page"):
            self._send(f"{domain}.enable", session=session, events=events)
        url = path.resolve().as_uri()
        self._send("Page.navigate", {"url": url}, session, events)
        self._wait_for("Page.loadEventFired", events)
        metrics = {"width": WIDTH, "height": 600, "deviceScaleFactor": scale, "mobile": False}
        self._send("Emulation.setDeviceMetricsOverride", metrics, session, events)
        whole = self._evaluate("document.documentElement.scrollHeight", session, events)
        metrics["height"] = min(whole, height or whole)
        self._send("Emulation.setDeviceMetricsOverride", metrics, session, events)
        shot = self._send("Page.captureScreenshot", {"format": "png"}, session, events)
        page = Page(
            fields=json.loads(self._evaluate(READ_FIELDS, session, events)),
            screenshot=base64.b64decode(shot["data"]),
            charts=self._evaluate(
                "Array.from(document.querySelectorAll('svg'))"
                ".filter(s => s.getBoundingClientRect().width > 100).length",
                session,
                events,
            ),
        )
        for event in events:
            page.errors.extend(_errors(event))
            if event["method"] == "Network.requestWillBeSent":
                requested = event["params"]["request"]["url"]
                if requested != url:
                    page.requests.append(requested)
        self._send("Target.closeTarget", {"targetId": target})
        return page

    def _evaluate(self, expression: str, session: str, events: list[dict[str, Any]]) -> Any:
        result = self._send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session, events
        )
        return result["result"]["value"]


def _errors(event: dict[str, Any]) -> list[str]:
    """The console errors, uncaught exceptions and failed loads an event reports."""
    method, params = event["method"], event["params"]
    if method == "Runtime.exceptionThrown":
        return [json.dumps(params["exceptionDetails"])[:300]]
    if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
        return [json.dumps(params["args"])[:300]]
    if method == "Log.entryAdded" and params["entry"]["level"] == "error":
        return [params["entry"]["text"]]
    if method == "Network.loadingFailed":
        return [f"failed to load: {params.get('errorText')}"]
    return []
