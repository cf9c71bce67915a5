"""A hostile HTTP/1.1 server on 127.0.0.1: Pennylane, HubSpot and Tryton that misbehave.

One server answers the three APIs on one port, by the first segment of the path:

- `/pl/...`: Pennylane v2 (`base_url = URL + "/pl"`): one customer (SIREN `SIREN`) with one
  unpaid invoice, empty cursor pages for every other list;
- `/hs/...`: HubSpot CRM v3 (`base_url = URL + "/hs"`): one company with that SIREN, and a
  batch update that takes everything;
- `/tryton/<database>/rpc/`: Tryton JSON-RPC (`url = URL + "/tryton"`): a login that hands
  out a session `SESSION_TOKEN`, a user with a company, and empty searches.

Well behaved until `hostility` says otherwise: `Hostility(api, mode, after)` makes every
request to `api` after its first `after` ones misbehave in one of `MODES`:

- `error_500`, `error_400`, `error_401`: that status, with a text body of `FILLER_CHARS`
  characters and then ` token=<secret>`, so that the secret straddles a cut at 300;
- `error_in_body`: the error inside a 200 (Tryton's `{"error": [...]}`), a 207 (HubSpot's
  batch update: the error's category), or a body without the list (Pennylane);
- `header_echo`: the right answer, with the secret in response headers (and a cookie);
- `record_echo`: the right answer, with the secret inside its records (a customer's name, an
  invoice's label or reference, a company's name, a party's name);
- `redirect_301` .. `redirect_308`: a redirect to `other_origin` (another instance, whose
  request log shows what reached it), the secret in the Location's path and query;
- `redirect_ftp`: a redirect to `ftp://127.0.0.1/`; `redirect_loop`: to itself, forever;
- `drip`: a 200 whose body comes one byte a second;
- `endless`: lists that never end (`has_more: true` and a new cursor on every page; a
  HubSpot `paging.next.after`; Tryton pages always full, ids always higher);
- `oversized`: 50 MB of valid JSON;
- `truncated`: a `Content-Length` larger than the body, and the connection closed mid-body.

The secret echoed is what that request carried: the bearer token of `Authorization`, the
Tryton session (its base64 and the token inside), or the password of a Tryton login.

Bounded like everything on this machine: at most `max_requests` requests are answered (the
others get the connection closed), the server stops itself after `lifetime` seconds, and a
drip or a long body stops as soon as the server stops. Use it as a context manager (or a
fixture that calls `stop`).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FILLER_CHARS",
    "MODES",
    "SESSION_TOKEN",
    "SIREN",
    "HostileServer",
    "Hostility",
    "Received",
    "wait_until",
]

MODES = (
    "error_500",
    "error_400",
    "error_401",
    "error_in_body",
    "header_echo",
    "record_echo",
    "redirect_301",
    "redirect_302",
    "redirect_307",
    "redirect_308",
    "redirect_ftp",
    "redirect_loop",
    "drip",
    "endless",
    "oversized",
    "truncated",
)
#: Characters before ` token=<secret>` in an error body: the secret starts at 290, across 300.
FILLER_CHARS = 283
#: The session token the Tryton login hands out (a secret too, once received).
SESSION_TOKEN = "sessQ4mZ8xT2vK7wR9pL3nB6"  # noqa: S105 - a fake token
SIREN = "345678901"
OVERSIZED_BYTES = 50 * 1024 * 1024
TRUNCATED_LENGTH = 4096  # announced; about 100 bytes are sent
_CHUNK = 64 * 1024
_MAX_REQUEST_BODY = 1024 * 1024


@dataclass(frozen=True)
class Received:
    """One request as it arrived: method, path with query, headers and body."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def as_text(self) -> str:
        """Everything of the request as one text, to search for a secret."""
        head = "\n".join(f"{name}: {value}" for name, value in self.headers)
        return f"{self.method} {self.path}\n{head}\n\n{self.body.decode('utf-8', 'replace')}"


@dataclass(frozen=True)
class Hostility:
    """Requests to `api` ("pl", "hs" or "tryton") after the first `after` ones get `mode`."""

    api: str
    mode: str
    after: int = 0

    def __post_init__(self) -> None:
        if self.api not in ("pl", "hs", "tryton") or self.mode not in MODES:
            raise ValueError(f"unknown api or mode: {self.api!r}, {self.mode!r}")


@dataclass
class _State:
    hostility: Hostility | None = None
    other_origin: str = "http://127.0.0.1:9"
    database: str = "db"
    max_requests: int = 400
    received: list[Received] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck on a client never holds the process
    state: _State


class HostileServer:
    """The server: `url`, `received` (the request log), `hostility` and `other_origin`."""

    def __init__(
        self,
        *,
        max_requests: int = 400,
        lifetime: float = 60.0,
        database: str = "db",
    ) -> None:
        """Bind a free port of 127.0.0.1; `start` serves, `stop` (or the timer) ends it.

        Args:
            max_requests: requests answered; those after are cut off unanswered.
            lifetime: seconds after `start` when the server stops itself.
            database: the Tryton database it answers for.
        """
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State(max_requests=max_requests, database=database)
        self._lifetime = lifetime
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def received(self) -> list[Received]:
        """Every request that arrived, answered or not, in order."""
        with self._server.state.lock:
            return list(self._server.state.received)

    @property
    def hostility(self) -> Hostility | None:
        """How the server misbehaves now (None: it does not)."""
        return self._server.state.hostility

    @hostility.setter
    def hostility(self, value: Hostility | None) -> None:
        with self._server.state.lock:
            self._server.state.hostility = value
            self._server.state.counts.clear()

    @property
    def other_origin(self) -> str:
        """Where the cross-origin redirects point."""
        return self._server.state.other_origin

    @other_origin.setter
    def other_origin(self, value: str) -> None:
        self._server.state.other_origin = value.rstrip("/")

    def start(self) -> HostileServer:
        """Serve in a background thread, until `stop` or `lifetime` seconds."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"hostile-server-{self.url}",
            daemon=True,
        )
        self._thread.start()
        self._timer = threading.Timer(self._lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; a drip or long body in progress ends too."""
        state = self._server.state
        if state.stopping.is_set():
            return
        state.stopping.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# The handler


def _secrets_of(headers: Any, body: bytes) -> list[str]:
    """What the request carried that must never come back: token, session, password."""
    found: list[str] = []
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if value:
        found.append(value)
        if scheme == "Session":
            try:
                found.append(base64.b64decode(value).decode().rsplit(":", 1)[1])
            except (ValueError, IndexError):
                pass
    try:
        call = json.loads(body) if body else None
    except ValueError:
        call = None
    if isinstance(call, dict) and call.get("method") == "common.db.login":
        params = call.get("params") or []
        if len(params) > 1 and isinstance(params[1], dict):
            found.append(str(params[1].get("password", "")))
    return [secret for secret in found if secret]


def _page(items: list[Any], cursor: str | None = None) -> dict[str, Any]:
    return {"items": items, "has_more": cursor is not None, "next_cursor": cursor}


def _customer(name: str) -> dict[str, Any]:
    return {
        "id": 1,
        "name": name,
        "customer_type": "company",
        "vat_number": "",
        "reg_no": SIREN,
        "payment_conditions": "30_days",
        "emails": [],
        "ledger_account": None,
        "created_at": "2026-01-02T10:00:00Z",
        "updated_at": "2026-01-02T10:00:00Z",
    }


def _invoice(label: str) -> dict[str, Any]:
    return {
        "id": 10,
        "invoice_number": "F-10",
        "label": label,
        "currency": "EUR",
        "amount": "1200.00",
        "currency_amount": "1200.00",
        "exchange_rate": "1.0",
        "date": "2026-01-10",
        "deadline": "2026-02-09",
        "remaining_amount_with_tax": "1200.00",
        "status": "upcoming",
        "paid": False,
        "draft": False,
        "customer": {"id": 1, "url": "/customers/1"},
        "credited_invoice": None,
        "created_at": "2026-01-10T08:00:00Z",
        "updated_at": "2026-01-12T08:00:00Z",
    }


def _company(name: str) -> dict[str, Any]:
    return {"id": "501", "properties": {"name": name, "siren": SIREN, "domain": None}}


def _date(year: int, month: int, day: int) -> dict[str, Any]:
    return {"__class__": "date", "year": year, "month": month, "day": day}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client that stops talking frees its thread
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        """Quiet: the request log is `received`."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    # -- dispatch ------------------------------------------------------------------------------

    def _serve(self) -> None:
        state = self.server.state
        length = min(int(self.headers.get("Content-Length") or 0), _MAX_REQUEST_BODY)
        body = self.rfile.read(length) if length else b""
        api = self.path.lstrip("/").split("/", 1)[0]
        with state.lock:
            state.received.append(
                Received(self.command, self.path, tuple(self.headers.items()), body)
            )
            over = len(state.received) > state.max_requests or state.stopping.is_set()
            state.counts[api] = state.counts.get(api, 0) + 1
            hostility = state.hostility
            hostile = (
                hostility is not None
                and hostility.api == api
                and state.counts[api] > hostility.after
            )
        if over:  # bounded: no answer at all
            self._cut()
            return
        self._body = body
        self._secrets = _secrets_of(self.headers, body)
        self._call = self._rpc_call(body) if api == "tryton" else None
        mode = hostility.mode if hostile and hostility is not None else None
        if mode is not None and self._hostile(api, mode):
            return
        answer = self._answer(api, mode)
        if answer is None:
            self._json({"message": f"no route {self.command} {self.path}"}, 404)
            return
        status, payload = answer
        extra = self._echo_headers() if mode == "header_echo" else {}
        self._json(payload, status, extra)

    @staticmethod
    def _rpc_call(body: bytes) -> dict[str, Any]:
        try:
            call = json.loads(body)
        except ValueError:
            return {}
        return call if isinstance(call, dict) else {}

    # -- the well-behaved APIs (record_echo and endless change what they hold) ----------------

    def _answer(self, api: str, mode: str | None) -> tuple[int, Any] | None:
        path = urlsplit(self.path).path
        if api == "pl" and self.command == "GET":
            return 200, self._pennylane(path.removeprefix("/pl"), mode)
        if api == "hs":
            return self._hubspot(path.removeprefix("/hs"), mode)
        if api == "tryton" and self.command == "POST":
            return 200, self._tryton(path.removeprefix("/tryton"), mode)
        return None

    def _echo(self) -> str:
        return " ".join(self._secrets) or "nothing"

    def _pennylane(self, path: str, mode: str | None) -> Any:
        if mode == "endless":
            cursor = parse_qs(urlsplit(self.path).query).get("cursor", ["0"])[0]
            return _page([], f"{int(cursor.removeprefix('c') or 0) + 1}")
        echo = f" token={self._echo()}" if mode == "record_echo" else ""
        if path == "/me":
            return {"id": 1, "email": "compta@example.fr"}
        if path == "/customers":
            return _page([_customer(f"Client Hostile SAS{echo}")])
        if path == "/customer_invoices":
            return _page([_invoice(f"Facture{echo}")])
        return _page([])

    def _hubspot(self, path: str, mode: str | None) -> tuple[int, Any]:
        echo = f" token={self._echo()}" if mode == "record_echo" else ""
        if path == "/crm/v3/objects/companies/batch/update" and self.command == "POST":
            inputs = self._rpc_call(self._body).get("inputs") or []
            return 200, {
                "status": "COMPLETE",
                "results": [{"id": i.get("id"), "properties": i.get("properties")} for i in inputs],
                "startedAt": "2026-03-01T00:00:00Z",
                "completedAt": "2026-03-01T00:00:01Z",
            }
        if path == "/crm/v3/objects/companies":
            if mode == "endless":
                after = int(parse_qs(urlsplit(self.path).query).get("after", ["0"])[0])
                return 200, {"results": [], "paging": {"next": {"after": str(after + 1)}}}
            return 200, {"results": [_company(f"Hostile Client{echo}")]}
        return 200, {"results": []}

    def _tryton(self, path: str, mode: str | None) -> Any:
        call = self._call or {}
        method = str(call.get("method", ""))
        params = call.get("params") or []
        ident = call.get("id")
        if path not in (f"/{self.server.state.database}/rpc/", "/rpc/"):
            return {"id": ident, "error": ["NotFound", ["no such database", ""]]}
        echo = f" token={self._echo()}" if mode == "record_echo" else ""
        result: Any = None
        if method == "common.server.version":
            result = "8.2.0"
        elif method == "common.db.login":
            result = [1, SESSION_TOKEN]
        elif method == "model.res.user.get_preferences":
            result = {"company": 1, "language": "fr"}
        elif method == "model.ir.date.today":
            result = _date(2026, 3, 1)
        elif method.endswith(".search_count"):
            result = 0
        elif method.endswith(".fields_get"):
            result = {}
        elif method == "model.account.invoice.search_read":
            result = self._tryton_invoices(params, mode, echo)
        elif method.endswith(".search_read") and mode == "endless":
            result = self._tryton_endless(params)
        elif method.endswith(".search_read"):
            result = []
        elif method == "model.party.party.read" and mode == "record_echo":
            ids = params[0] if params and isinstance(params[0], list) else []
            result = [{"id": i, "name": f"Client Hostile{echo}", "identifiers.": []} for i in ids]
        elif method.endswith(".read"):
            result = []
        return {"id": ident, "result": result}

    def _tryton_invoices(self, params: list[Any], mode: str | None, echo: str) -> list[Any]:
        if mode == "endless":
            return self._tryton_endless(params)
        if mode != "record_echo" or _after_id(params) > 0:
            return []
        return [
            {
                "id": 1,
                "state": "draft",
                "type": "out",
                "number": None,
                "reference": f"REF{echo}",
                "party": 7,
                "total_amount": {"__class__": "Decimal", "decimal": "100.00"},
                "invoice_date": _date(2026, 2, 1),
                "currency.": {"code": "EUR"},
                "write_date": None,
                "create_date": None,
            }
        ]

    @staticmethod
    def _tryton_endless(params: list[Any]) -> list[Any]:
        """A page always full (of invoices cancelled outright: they give nothing), ids rising."""
        size = params[2] if len(params) > 2 and isinstance(params[2], int) else 500
        start = _after_id(params) + 1
        return [{"id": start + n, "state": "cancelled", "cancel_move.": None} for n in range(size)]

    # -- hostility -----------------------------------------------------------------------------

    def _hostile(self, api: str, mode: str) -> bool:
        """Misbehave for `mode`; False when the mode only changes what a right answer holds."""
        secret = self._echo()
        filler = "x" * FILLER_CHARS
        if mode.startswith("error_") and mode != "error_in_body":
            status = int(mode.removeprefix("error_"))
            self._raw(status, f"{filler} token={secret}".encode(), "text/plain; charset=utf-8")
        elif mode == "error_in_body":
            self._error_in_body(api, f"{filler} token={secret}")
        elif mode.startswith("redirect_"):
            self._redirect(mode.removeprefix("redirect_"), secret)
        elif mode == "drip":
            self._drip()
        elif mode == "oversized":
            self._oversized()
        elif mode == "truncated":
            self._truncated()
        else:
            return False
        return True

    def _error_in_body(self, api: str, text: str) -> None:
        if api == "tryton":
            self._json({"id": (self._call or {}).get("id"), "error": ["UserError", [text, ""]]})
        elif api == "hs":
            inputs = self._rpc_call(self._body).get("inputs") or [{"id": "501"}]
            error = {
                "status": "error",
                "category": text,
                "message": text,
                "context": {"ids": [str(i.get("id")) for i in inputs]},
            }
            self._json({"status": "COMPLETE", "results": [], "errors": [error]}, 207)
        else:
            self._json({"error": text, "status": 200})

    def _redirect(self, kind: str, secret: str) -> None:
        here = urlsplit(self.path)
        if kind == "ftp":
            status, location = 302, f"ftp://127.0.0.1/{secret}/?token={secret}"
        elif kind == "loop":
            hop = int(parse_qs(here.query).get("hop", ["0"])[0]) + 1
            status, location = 307, f"{here.path}?hop={hop}"
        else:
            status = int(kind)
            location = f"{self.server.state.other_origin}/{secret}{here.path}?access_token={secret}"
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Type", "text/plain")
        body = f"moved to {location}".encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self) -> None:
        """A valid JSON body, one byte a second, while the client listens and we run."""
        body = json.dumps({"items": [], "has_more": False, "next_cursor": None}).encode()
        body = body.ljust(200)  # trailing spaces: still valid JSON, 200 seconds long
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        stopping = self.server.state.stopping
        try:
            for byte in body:
                if stopping.wait(1.0):
                    break
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:  # the client gave up: good
            pass
        self.close_connection = True

    def _oversized(self) -> None:
        """`OVERSIZED_BYTES` of one valid JSON page, written while the client reads."""
        head = b'{"items": [], "results": [], "result": [], "padding": ['
        tail = b'""], "has_more": false, "next_cursor": null}'
        element = b'"' + b"x" * 1022 + b'",'
        count = (OVERSIZED_BYTES - len(head) - len(tail)) // len(element)
        length = len(head) + count * len(element) + len(tail)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        stopping = self.server.state.stopping
        per_chunk = _CHUNK // len(element)
        try:
            self.wfile.write(head)
            written = 0
            while written < count and not stopping.is_set():
                n = min(per_chunk, count - written)
                self.wfile.write(element * n)
                written += n
            self.wfile.write(tail)
        except OSError:  # the client stopped reading at its limit: good
            pass
        self.close_connection = True

    def _truncated(self) -> None:
        """Announce `TRUNCATED_LENGTH` bytes, send about 100, close the connection."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(TRUNCATED_LENGTH))
        self.end_headers()
        self.wfile.write(b'{"items": [], "has_more": false, "next_cursor": null, "padding": "')
        self.wfile.write(b"x" * 40)
        self.wfile.flush()
        self._cut()

    # -- writing -------------------------------------------------------------------------------

    def _echo_headers(self) -> dict[str, str]:
        secret = self._echo()
        return {
            "X-Echo-Authorization": secret,
            "Set-Cookie": f"echo={secret.replace(' ', '_')}; Path=/",
            "WWW-Authenticate": f'Bearer realm="{secret}"',
            "Link": f'<{self.server.state.other_origin}/?token={secret}>; rel="next"',
        }

    def _json(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _raw(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _cut(self) -> None:
        """Close the connection now, whatever was (not) sent."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _after_id(params: list[Any]) -> int:
    """The `id > N` of a keyset page's domain (0 for the first page)."""
    domain = params[0] if params and isinstance(params[0], list) else []
    for clause in domain:
        if isinstance(clause, list) and clause[:2] == ["id", ">"] and isinstance(clause[2], int):
            return clause[2]
    return 0


def wait_until(predicate: Any, seconds: float = 5.0) -> bool:
    """Poll `predicate` until true or `seconds` pass (bounded, for the tests)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
