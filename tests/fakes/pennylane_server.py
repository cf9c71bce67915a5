"""Fake Pennylane companies served over real HTTP on 127.0.0.1, for runs in other processes.

`FakePennylane` answers `responses` callbacks inside the test's process; a firm run starts one
process per company, which only a real socket reaches. This server hands each request to the
fake whose token it carries (one fake per company, on a real clock), so every token has its
own limit of 25 requests per 5 s, 429 and `retry-after` included, and every request is still
checked against the OpenAPI file. It counts, per token, the requests that arrived, the 429s
sent, and the most requests that arrived in any 5 s.

    with PennylaneServer({"token-a": fake_a, "token-b": fake_b}) as server:
        base_url = server.base_url          # http://127.0.0.1:PORT/api/external/v2
        ...
        server.arrivals["token-a"]          # arrival times (time.monotonic())

`delay` makes every answer wait, so that a run lasts long enough to be killed mid-way.

Bounded: the server stops itself after `lifetime` seconds and answers at most
`max_requests` requests (the others get 503).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from fakes.pennylane import LIMIT, ORIGIN, PREFIX, WINDOW, FakePennylane, customer, invoice


class RealClock:
    """The real time, with the interface of `FakeClock`."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def company_books(token: str, invoices: int, customers: int | None = None) -> FakePennylane:
    """A fake company on the real clock: `invoices` open invoices over `customers` customers."""
    customers = customers or max(1, invoices // 20)
    fake = FakePennylane(clock=RealClock(), token=token)  # type: ignore[arg-type]
    fake.customers = {i: customer(i, f"Customer {i}") for i in range(1, customers + 1)}
    fake.invoices = {
        1000 + n: invoice(1000 + n, 1 + n % customers, f"{100 + n % 5000}.00")
        for n in range(invoices)
    }
    return fake


class PennylaneServer:
    """One HTTP server, many fake Pennylane companies told apart by their bearer token."""

    def __init__(
        self,
        fakes: dict[str, FakePennylane],
        *,
        delay: float = 0.0,
        lifetime: float = 600,
        max_requests: int = 200_000,
    ) -> None:
        self.fakes = fakes
        self.delay = delay  # seconds before each answer: a slow server, a run that lasts
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.throttled: dict[str, int] = defaultdict(int)
        self.answered = 0
        self.max_requests = max_requests
        self._locks = {token: threading.Lock() for token in fakes}
        self._count = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PREFIX}"

    def __enter__(self) -> PennylaneServer:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()

    def most_in_any_window(self, token: str, window: float = WINDOW) -> int:
        """The most requests of `token` that arrived within any `window` seconds."""
        times = sorted(self.arrivals.get(token, []))
        most, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= window:
                first += 1
            most = max(most, last - first + 1)
        return most

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict, str]:
        """The fake's answer to one request (also called by the handler's threads)."""
        token = headers.get("Authorization", "").removeprefix("Bearer ")
        with self._count:
            self.answered += 1
            if self.answered > self.max_requests:
                return 503, {}, "the test server's request budget is spent"
            self.arrivals[token].append(time.monotonic())
        time.sleep(self.delay)
        fake = self.fakes.get(token)
        if fake is None:
            return 401, {}, '{"error": "Unauthorized"}'
        request = requests.Request(method, ORIGIN + path, headers=headers).prepare()
        with self._locks[token]:
            status, answer_headers, body = fake._handle(request)
            fake.calls.clear()  # the server counts; the fake need not keep every request
        if status == 429:
            with self._count:
                self.throttled[token] += 1
        return status, answer_headers, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                status, headers, body = server.answer("GET", self.path, dict(self.headers))
                data = body.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a client killed mid-request (a test does that on purpose)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet: the test reads the counts

        return Handler


__all__ = ["LIMIT", "WINDOW", "PennylaneServer", "RealClock", "company_books"]
