"""Tryton as a source: customers, invoices, payments, deposits and balances over JSON-RPC.

What is read (see `records.py` for what each becomes, `balance.py` for the balance):

- `account.invoice` of type out, draft to paid, with their lines to pay, and those
  cancelled by a credit note (which settles them);
- `account.move.line` on receivable accounts of posted moves that are no invoice's own line
  (payments, overpayments, transfers, refunds, write-offs), with their reconciliation and
  the invoice they pay; a line that reverses an invoice's own line (the invoice cancelled)
  is not read, nor is the invoice;
- `account.invoice.line` on deposit accounts of posted customer invoices (account_deposit),
  read whole at each run: there are few, and a recall needs the customer's older deposits;
- `party.party` of every customer met, with SIREN, SIRET, VAT number, credit limit, and
  its `receivable` and `deposit`: a `SourceBalance` on the server's date, adjusted by the
  receivable lines of draft moves (read once a run).

Incremental: the position is JSON `{"since": <timestamp>, "live": <count>}`. `since` is the
latest `write_date`/`create_date` Tryton gave (its own clock, naive UTC there); the next run
asks for what changed from `since` minus `OVERLAP`, so a transaction that committed late is
not missed (reading a record twice is harmless: sync writes only what changed). Tryton keeps
no trace of deletions, so `live` counts the customer invoices still live (draft to paid)
created up to `since`: when that count drops, a draft was deleted or an invoice cancelled,
and the run reads everything again (`replace_all`), which removes them. `--full-refresh`
does the same at any time. An incremental run gives the balances of the customers it read;
the store keeps the others'.

API calls: one login, one context, then one `search_read` per page of `PAGE_SIZE` records
per stream (keyset pages by id), the parties' fields, the server's date and the draft
moves' receivable lines (once a run, when customers are read), one `read` per page of
customers, and on an incremental run four `search_count` to decide what to read (one more
after the read, for the position).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from encours.connectors.base import Pull
from encours.connectors.tryton.balance import (
    BALANCE_FIELDS,
    DRAFT_MOVE_LINES,
    DepositsLeft,
    deposits_left,
    draft_moves,
    source_balance,
)
from encours.connectors.tryton.records import (
    DEPOSIT_FIELDS,
    DRAFTS,
    INVOICE_FIELDS,
    LINE_FIELDS,
    PARTY_FIELDS,
    POSTED,
    deposit_records,
    invoice_records,
    line_records,
    raw_of,
    to_customer,
)
from encours.connectors.tryton.rpc import PAGE_SIZE, TrytonError, TrytonRpc
from encours.errors import ConfigError
from encours.model import Rejected, SourceRecord

__all__ = ["OTHER_RECEIVABLE_LINES", "OVERLAP", "TrytonSource"]

log = logging.getLogger("encours.tryton")

OVERLAP = timedelta(hours=1)

_OUT_INVOICES: list[Any] = [["type", "=", "out"]]
_LIVE = [*_OUT_INVOICES, ["state", "in", [*DRAFTS, *POSTED]]]
# The live invoices, and those a credit note cancelled ("credit with refund"): the credit
# note settles them. An invoice cancelled outright is not read.
_READ = [
    *_OUT_INVOICES,
    [
        "OR",
        ["state", "in", [*DRAFTS, *POSTED]],
        [["state", "=", "cancelled"], ["cancel_move.origin", "like", "account.invoice,%"]],
    ],
]
# Receivable lines of posted moves that are no invoice's own (those come with the invoice,
# as its lines to pay, a credit note's included, whatever invoice it was applied to). A
# move whose origin is an invoice is its own move (and those that reschedule or delegate
# its lines), except a payment made with the pay wizard: a move of a cash journal (as
# Tryton's payment methods require) whose lines have no maturity date, the payment and
# any overpayment. A line reversing an invoice's own line (an invoice cancelled: Tryton
# copies its move with the amounts negated, each line's origin the line it reverses) goes
# with that invoice: nowhere.
OTHER_RECEIVABLE_LINES: list[Any] = [
    ["account.type.receivable", "=", True],
    ["move_state", "=", "posted"],
    [
        "OR",
        ["move_origin", "=", None],
        ["move_origin", "not like", "account.invoice,%"],
        [["maturity_date", "=", None], ["move.journal.type", "=", "cash"]],
    ],
    [
        "OR",
        ["origin", "=", None],
        ["origin", "not like", "account.move.line,%"],
        ["origin.maturity_date", "=", None, "account.move.line"],
        ["origin.move_origin", "not like", "account.invoice,%", "account.move.line"],
    ],
]
# The invoice a payment line, or a credit note's line, was put in the payment lines of.
_PAYMENT_LINKED = "invoice_payment.write_date"
_CREDIT_LINKED = "move.lines.invoice_payments.write_date"
_DEPOSIT_LINES: list[Any] = [
    ["account.type.deposit", "=", True],
    ["invoice.type", "=", "out"],
    ["invoice.state", "in", list(POSTED)],
]


def _changed_since(moment: datetime, *linked: str) -> list[Any]:
    """Records written or created since `moment`, or whose `linked` record was written since.

    A link between an invoice and a payment line (its payment lines) is written on the
    invoice only: the line, or the credit note whose line it is, is read again with it.
    """
    return [
        "OR",
        ["write_date", ">=", moment],
        ["create_date", ">=", moment],
        *([path, ">=", moment] for path in linked),
    ]


class TrytonSource:
    """Read one company of one Tryton database."""

    name = "tryton"

    def __init__(self, source: str, rpc: TrytonRpc, *, currency: str) -> None:
        """Create the source.

        Args:
            source: the source's name in the configuration.
            rpc: a session to the database (its user needs read access to accounting).
            currency: the company's currency; it must be the Tryton company's.
        """
        self.source = source
        self.currency = currency
        self.rpc = rpc
        self._latest: datetime | None = None
        self._parties_seen: set[int] = set()
        self._own_lines: set[int] = set()
        self._deposits_left: dict[int, DepositsLeft] = {}

    def check(self) -> None:
        """Log in, read the user's company and make sure the accounting modules answer.

        Raises:
            AuthError: wrong user or password.
            ConfigError: wrong database, no company, another currency, a module missing.
            TransientError: the server cannot be reached.
        """
        self.rpc.server_version()
        company = self.rpc.model(
            "company.company", "read", [self.rpc.context["company"]], ["currency.code"]
        )
        code = (company[0].get("currency.") or {}).get("code") if company else None
        if code and code != self.currency:
            raise ConfigError(
                f"the Tryton company's currency is {code}, the configuration says "
                f'{self.currency}: set `currency = "{code}"` in [company]'
            )
        try:
            self.rpc.model("account.invoice", "search_count", [], 0, 1)
            self.rpc.model("account.invoice.line", "search_count", _DEPOSIT_LINES, 0, 1)
        except TrytonError as exc:
            raise ConfigError(
                f"Tryton database {self.rpc.database!r} cannot be read for customer invoices "
                f"and deposits ({exc}): activate the modules account_invoice and "
                "account_deposit, and give the user the Accounting group"
            ) from None

    def pull(self, position: str | None) -> Pull:
        """Everything when `position` is None or a deletion is noticed, else what changed.

        Logs in first, before any record is handed out: the session key is a secret from
        then on, and what is stored is masked of the secrets known when reading starts.
        """
        self.rpc.context  # noqa: B018 - logs in and reads the user's company
        since, live = _read_position(position)
        self._latest, self._parties_seen = since, set()
        self._own_lines, self._deposits_left = set(), {}
        if since is not None and self._deleted_since(since, live):
            log.info("%s: invoices deleted or cancelled in Tryton: reading everything", self.source)
            since = None
        if since is None:
            return Pull(records=self._records(None), position=self._position, replace_all=True)
        start = since - OVERLAP
        if not self._anything_changed(start):
            return Pull(
                records=iter(()),
                position=lambda: position or "",
                replace_all=False,
                unchanged=True,
            )
        return Pull(records=self._records(start), position=self._position, replace_all=False)

    # -- internals -----------------------------------------------------------------------------

    def _deleted_since(self, since: datetime, live: int | None) -> bool:
        """True when fewer invoices created up to `since` are live than the last run counted.

        Tryton keeps no trace of a deleted draft, and a cancelled invoice leaves the live
        states: either lowers the count.
        """
        if live is None:
            return True
        still = self.rpc.model(
            "account.invoice", "search_count", [*_LIVE, ["create_date", "<=", since]], 0, None
        )
        return bool(still < live)

    def _anything_changed(self, start: datetime) -> bool:
        return any(
            self.rpc.model(model, "search_count", [*domain, _changed_since(start)], 0, 1)
            for model, domain in (
                ("account.invoice", _OUT_INVOICES),
                ("account.move.line", OTHER_RECEIVABLE_LINES),
                ("party.party", []),
            )
        )

    def _records(self, start: datetime | None) -> Iterator[SourceRecord | Rejected]:
        changed = [_changed_since(start, _CREDIT_LINKED)] if start is not None else []
        for item in self.rpc.search_pages(
            "account.invoice", [*_READ, *changed], INVOICE_FIELDS, page_size=PAGE_SIZE // 2
        ):
            self._saw(item, item.get("party"))
            self._own_lines.update(line["id"] for line in item.get("lines_to_pay.") or [])
            yield from invoice_records(self.source, item, currency=self.currency)
        changed = [_changed_since(start, _PAYMENT_LINKED)] if start is not None else []
        for item in self.rpc.search_pages(
            "account.move.line", [*OTHER_RECEIVABLE_LINES, *changed], LINE_FIELDS
        ):
            if item["id"] in self._own_lines:  # an invoice's, met with it: read once
                log.warning("%s: move line %s is an invoice's: skipped", self.source, item["id"])
                continue
            self._saw(item, item.get("party"))
            yield from line_records(self.source, item, currency=self.currency)
        yield from self._deposits()
        yield from self._customers(start)

    def _deposits(self) -> Iterator[SourceRecord | Rejected]:
        by_party: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for item in self.rpc.search_pages("account.invoice.line", _DEPOSIT_LINES, DEPOSIT_FIELDS):
            party = (item.get("invoice.") or {}).get("party")
            if party is None:  # Tryton requires one; nothing to book the deposit to without it
                yield Rejected(
                    source=self.source,
                    stream="account.invoice.line",
                    external_id=str(item["id"]),
                    reason="a deposit line whose invoice has no party",
                    raw=raw_of(item),
                )
                continue
            by_party[party].append(item)
        for party, rows in sorted(by_party.items()):
            self._parties_seen.add(party)
            records = deposit_records(self.source, party, rows, currency=self.currency)
            self._deposits_left[party] = deposits_left(rows, records)
            yield from records

    def _customers(self, start: datetime | None) -> Iterator[SourceRecord | Rejected]:
        fields = self._party_fields()
        balances = _Balances(self.rpc, self.source, self.currency, fields, self._deposits_left)
        read: set[int] = set()
        if start is not None:  # parties edited since, that owe or are owed something
            for item in self.rpc.search_pages(
                "party.party", [_changed_since(start), ["receivable", "!=", 0]], fields
            ):
                read.add(item["id"])
                yield from self._customer(item, balances)
        wanted = sorted(self._parties_seen - read)
        for at in range(0, len(wanted), PAGE_SIZE):
            for item in self.rpc.read("party.party", wanted[at : at + PAGE_SIZE], fields):
                yield from self._customer(item, balances)

    def _customer(
        self, item: dict[str, Any], balances: _Balances
    ) -> Iterator[SourceRecord | Rejected]:
        self._saw(item, None)
        yield to_customer(self.source, item, currency=self.currency)
        if balances.stated(item):
            yield balances.of(item)

    def _party_fields(self) -> list[str]:
        """The parties' fields to read: the credit limit and the balance when Tryton has them."""
        optional = ["credit_limit_amount", *BALANCE_FIELDS]
        described = self.rpc.model("party.party", "fields_get", optional)
        return [*PARTY_FIELDS, *(name for name in optional if name in described)]

    def _saw(self, item: dict[str, Any], party: int | None) -> None:
        if party:
            self._parties_seen.add(party)
        for key in ("write_date", "create_date"):
            moment = item.get(key)
            if moment is not None and (self._latest is None or moment > self._latest):
                self._latest = moment

    def _position(self) -> str:
        since = self._latest or datetime.now(UTC)
        live = self.rpc.model(
            "account.invoice", "search_count", [*_LIVE, ["create_date", "<=", since]], 0, None
        )
        return json.dumps({"since": since.isoformat(), "live": live})


class _Balances:
    """The balances of the parties of one run.

    The server's date and the draft moves are read once, when the first balance is made.
    """

    def __init__(
        self,
        rpc: TrytonRpc,
        source: str,
        currency: str,
        fields: list[str],
        deposits: dict[int, DepositsLeft],
    ) -> None:
        self._rpc, self._source, self._currency = rpc, source, currency
        self._has_balance = "receivable" in fields
        self._deposits = deposits
        self._as_of: date | None = None
        self._drafts: dict[int, Decimal] = {}

    def stated(self, item: dict[str, Any]) -> bool:
        """True when Tryton gave the party's receivable (the module account answers)."""
        return self._has_balance and "receivable" in item

    def of(self, item: dict[str, Any]) -> SourceRecord | Rejected:
        """The party's `SourceBalance` (see `balance.py`)."""
        if self._as_of is None:
            self._as_of = self._rpc.model("ir.date", "today")
            self._drafts = draft_moves(
                self._rpc.search_pages(
                    "account.move.line", DRAFT_MOVE_LINES, ["party", "debit", "credit"]
                )
            )
        return source_balance(
            self._source,
            item,
            as_of=self._as_of,
            draft=self._drafts.get(item["id"], Decimal(0)),
            deposits=self._deposits.get(item["id"], DepositsLeft()),
            currency=self._currency,
        )


def _read_position(position: str | None) -> tuple[datetime | None, int | None]:
    if not position:
        return None, None
    try:
        data = json.loads(position)
        since = datetime.fromisoformat(data["since"])
        live = int(data["live"])
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable Tryton position %r: reading everything again", position)
        return None, None
    return (since if since.tzinfo else since.replace(tzinfo=UTC)), live
