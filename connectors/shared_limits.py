"""A vendor's rate limit per token, shared by every process of a firm run on this machine.

`Pacer` keeps one client under a vendor's limit. A firm runs many companies at once, in
several processes, and companies may share one token (a Pennylane firm token serves every
company of the firm): their pacers would add up to several times the limit. So under
`encours sync --all` every paced client also waits on a window kept in a small file, one
per token, that every process opens and locks (`fcntl.flock`) before each request:

    <folder>/<sha256 of the token, 32 hex digits>-<max calls>-<seconds>.json
    {"sent": [1765040000.12, ...], "blocked_until": 0}

`sent` holds the send times (Unix time) of the last `max_calls` requests; a request goes
out when fewer than `max_calls` were sent in the last `per_seconds` + `MARGIN`. Example,
Pennylane's 24 requests per 5 s (its pacer): two processes with the same token send 24
together in the first 5.25 s, then one more each time the oldest leaves the window. A quota
header at 0 (or a 429 with one) blocks the window for every process until its reset.

The file names hold a digest of the token, never the token; a folder is only read or
written by the processes of the firm run that named it (`ENCOURS_SHARED_LIMITS`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

#: The environment variable a firm run sets for its company runs: the folder of the windows.
FOLDER_VARIABLE = "ENCOURS_SHARED_LIMITS"

#: Seconds added to every window: two processes' requests reach the server in another order
#: or later than they left (a loaded machine, the network); the server counts arrivals.
MARGIN = 0.25


class LocalPacer(Protocol):
    """What of `connectors.http.Pacer` the shared window needs."""

    max_calls: int
    per_seconds: float

    def wait(self) -> None:
        """Sleep until one more request stays under this client's limit."""

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read a response's quota headers."""

    def pause_left(self) -> float:
        """Seconds this client still waits because a quota header reached 0."""


class SharedWindow:
    """The sliding window of one token, in a file every process locks while it reads it.

    `SharedWindow(folder, "pl-token", 24, 5).take()` returns once a 25th request in any
    5.25 s is not going out, in this process or another.
    """

    def __init__(
        self,
        folder: Path,
        token: str,
        max_calls: int,
        per_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        self.path = folder / f"{digest}-{max_calls}-{per_seconds:g}.json"
        self.max_calls = max_calls
        self.window = per_seconds + MARGIN
        self._clock = clock
        self._sleep = sleep

    def take(self) -> None:
        """Wait until one more request stays under the limit, and count it as sent."""
        while True:
            delay = self._update(self._count_if_free)
            if delay <= 0:
                return
            self._sleep(delay)

    def block(self, seconds: float) -> None:
        """No process sends with this token for `seconds` (a quota header said 0)."""
        until = self._clock() + seconds

        def blocked(state: dict[str, Any], now: float) -> float:
            state["blocked_until"] = max(float(state.get("blocked_until", 0)), until)
            return 0.0

        self._update(blocked)

    def _count_if_free(self, state: dict[str, Any], now: float) -> float:
        """The seconds to wait; 0 after counting the request (state changed in place)."""
        sent = [t for t in state.get("sent", []) if t > now - self.window]
        delay = max(0.0, float(state.get("blocked_until", 0)) - now)
        if len(sent) >= self.max_calls:
            delay = max(delay, sent[-self.max_calls] + self.window - now)
        if delay <= 0:
            sent.append(now)
        state["sent"] = sent[-self.max_calls :]
        return delay

    def _update(self, change: Callable[[dict[str, Any], float], float]) -> float:
        """Run `change` on the file's state under an exclusive lock, and write it back."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as handle:
                text = handle.read()
                try:
                    state = json.loads(text) if text else {}
                except ValueError:  # a process killed mid-write: start the window afresh
                    state = {}
                result = change(state, self._clock())
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(state))
            return result
        finally:
            os.close(fd)  # closing drops the lock


class SharedPacer:
    """A client's own `Pacer`, then the token's shared window: both limits hold."""

    def __init__(self, local: LocalPacer, window: SharedWindow) -> None:
        self.local = local
        self.window = window
        self.max_calls = local.max_calls
        self.per_seconds = local.per_seconds

    def wait(self) -> None:
        """Wait for this client's pacer, then for the token's window across processes."""
        self.local.wait()
        self.window.take()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read the quota headers; a quota at 0 blocks every process of this token."""
        self.local.observe(headers)
        pause = self.local.pause_left()
        if pause > 0:
            self.window.block(pause)

    def pause_left(self) -> float:
        """As the client's own pacer."""
        return self.local.pause_left()


def shared(pacer: Any, secrets: Iterable[str], *, environ: Mapping[str, str] = os.environ) -> Any:
    """The pacer to use: `pacer` itself, or it and the token's shared window in a firm run.

    Shared when `ENCOURS_SHARED_LIMITS` names a folder, the client is paced, and it has a
    secret (its token) to key the window by; a client without one keeps its own pacer.
    """
    folder = environ.get(FOLDER_VARIABLE)
    tokens = [secret for secret in secrets if secret]
    if not folder or pacer is None or not tokens:
        return pacer
    window = SharedWindow(Path(folder), "\n".join(tokens), pacer.max_calls, pacer.per_seconds)
    return SharedPacer(pacer, window)
