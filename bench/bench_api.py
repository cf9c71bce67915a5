"""Benchmark: API calls and wall time of the Pennylane source and the HubSpot target.

    python bench/bench_api.py [--invoices 20000] [--companies 5000] [--changed 0.01]

Against the fake servers of the tests (tests/fakes/pennylane.py, tests/fake_hubspot.py) served
through `responses`, but with their REAL rate limits on a REAL clock (Pennylane 25 requests /
5 s, HubSpot 100 / 10 s), and the connectors' default `Pacer` and `RetryPolicy`, which really
sleep. So the wall time is what a run would spend waiting on the vendors' limits (plus the fakes'
own work: Pennylane's fake checks every request against the OpenAPI file), and the figures say
whether the connectors send as few requests as the page sizes allow and stay under the limits:

1. full pull: `PennylaneConnector.pull(None)` of N invoices over C customers, every record
   consumed. All are open, so none costs a settlement call. Minimum calls = ceil(C / 100) +
   ceil(N / 100) (lists cap `limit` at 100) + the balance check: 1 (fiscal years) +
   ceil(C / 1000) (customer accounts) + ceil((C + 1) / 1000) (trial balance rows: one per
   customer account and the sales account); predicted wall time = calls / 25 x 5 s.
2. full push: `HubSpotTarget.push` of one value to each of C pre-created companies. Minimum
   calls = ceil(C / 100) (batch/update takes 100 inputs); predicted = calls / 100 x 10 s.
3. incremental: a fraction of the invoices gets paid by a bank transfer matched in Pennylane,
   with a changelog entry each after the first pull's position; `pull(position)` from that
   position, then a push of only the companies whose outstanding amount changed. Minimum calls
   = 2 changelog pages + ceil(changed invoices / 100) fetches by id + 1 page of credit notes
   (one may credit a paid invoice) + 1 `matched_transactions` per paid invoice (the date of
   the money is in no list) + the balance of the customers touched: ceil(touched / 100)
   customers by id + 1 (fiscal years) + ceil(touched / 100) accounts by id + ceil((C + 1) /
   1000) trial balance pages; and ceil(changed companies / 100) batches: the cost follows the
   changes, but for the trial balance, which cannot be filtered. It runs on a new connector
   after a pause of one rate-limit window, as a later run would.

No store and no `run_sync`: the pulled records are folded into an outstanding amount per
customer here (invoice totals minus what is paid), customer i being HubSpot company 100000 + i,
so the calls measured are the connectors' own and nothing else. 429s are counted as received:
Pennylane's fake does not count them, so `CountingPennylane` does; HubSpot's counts `throttled`.

Prints a table and writes it as JSON to bench/out/api_results.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import responses

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fakes live with the tests (not a package)

from fake_hubspot import FakeHubSpot  # noqa: E402
from fakes import dolibarr as doli_fake  # noqa: E402
from fakes import pennylane as pl_fake  # noqa: E402
from fakes import pennylane_server as pl_server  # noqa: E402
from fakes import sellsy as sy_fake  # noqa: E402
from fakes import stripe as stripe_fake  # noqa: E402
from fakes import xero as xero_fake  # noqa: E402

from encours.connectors.declarative import OAuth2RefreshAuth  # noqa: E402
from encours.connectors.hubspot import HubSpotTarget  # noqa: E402
from encours.connectors.pennylane import PennylaneConnector  # noqa: E402
from encours.connectors.stripe import StripeSource  # noqa: E402
from encours.connectors.stripe import make_client as stripe_client  # noqa: E402
from encours.connectors.xero import XeroSource  # noqa: E402
from encours.connectors.xero import make_client as xero_client  # noqa: E402
from encours.model import Invoice, Payment  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "out"
HUBSPOT_TOKEN = "hs-bench-token"
PROPERTY = "encours_outstanding"
COMPANY_OFFSET = 100_000
PL_LIMIT = (pl_fake.LIMIT, pl_fake.WINDOW)  # 25 requests / 5 s
HS_LIMIT = (100, 10.0)  # FakeHubSpot's default, HubSpot's Free/Starter limit


class RealClock(pl_server.RealClock):
    """The real time, with the interface of both fakes' clocks.

    Pennylane's `FakeClock` is read with `monotonic()`, `time()` and `now()`
    (`fakes.pennylane_server.RealClock`); HubSpot's is called (`clock()`, monotonic seconds).
    """

    def __call__(self) -> float:
        return time.monotonic()


class CountingPennylane(pl_fake.FakePennylane):
    """The Pennylane fake, counting the 429 answers it sends."""

    throttled: int = 0

    def register(self, rsps: responses.RequestsMock) -> None:
        """Answer every GET to the Pennylane origin, counting the 429s."""

        def handle(request: Any) -> tuple[int, dict[str, str], str]:
            status, headers, body = self._handle(request)
            self.throttled += status == 429
            return status, headers, body

        pattern = re.compile(re.escape(pl_fake.ORIGIN) + r"/.*")
        rsps.add_callback(responses.GET, pattern, handle)


# ---------------------------------------------------------------------------------------------
# Data


def build_pennylane(invoices: int, customers: int) -> CountingPennylane:
    """Invoices spread round-robin over the customers, all open, 100.00 to 5 099.00 each."""
    fake = CountingPennylane(clock=RealClock())  # type: ignore[arg-type]
    fake.customers = {c: pl_fake.customer(c, f"Client {c}") for c in range(1, customers + 1)}
    fake.invoices = {
        i: pl_fake.invoice(i, 1 + (i - 1) % customers, f"{100 + i % 5000}.00")
        for i in range(1, invoices + 1)
    }
    return fake


def build_hubspot(customers: int) -> FakeHubSpot:
    """One company per customer, with the indicator property already created."""
    fake = FakeHubSpot(HUBSPOT_TOKEN, clock=RealClock())
    fake.add_property(PROPERTY)
    for c in range(1, customers + 1):
        fake.add_company(str(COMPANY_OFFSET + c), name=f"Client {c}")
    return fake


def pay(fake: CountingPennylane, ids: Iterable[int], when: datetime) -> None:
    """Pay invoices by a matched transfer the day before `when`, recorded at `when`."""
    on = (when - timedelta(days=1)).date().isoformat()
    for ident in ids:
        amount = fake.invoices[ident]["currency_amount"]
        fake.match(ident, 500_000 + ident, on=on, amount=amount, recorded_at=when)


def balance_calls(accounts: int, customers: int) -> int:
    """Calls of the balance check: fiscal years, `accounts` pages, the trial balance."""
    return 1 + accounts + math.ceil((customers + 1) / 1000)


def fold(records: Iterable[Any], open_by_invoice: dict[str, tuple[str, Decimal]]) -> int:
    """Update invoice id -> (customer id, amount still open) from pulled records."""
    totals: dict[str, tuple[str, Decimal]] = {}
    paid: Counter[str] = Counter()
    count = 0
    for record in records:
        count += 1
        if isinstance(record, Invoice):
            totals[record.external_id] = (record.customer_id, record.total.amount)
        elif isinstance(record, Payment):
            for allocation in record.allocations:
                paid[allocation.invoice_id] += allocation.amount.amount
    for ident, (customer_id, total) in totals.items():
        open_by_invoice[ident] = (customer_id, total - paid[ident])
    return count


def outstanding(open_by_invoice: dict[str, tuple[str, Decimal]]) -> dict[str, str]:
    """HubSpot company id -> outstanding amount, as the text a target receives."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for customer_id, amount in open_by_invoice.values():
        sums[str(COMPANY_OFFSET + int(customer_id))] += amount
    return {company: f"{amount:.2f}" for company, amount in sums.items()}


# ---------------------------------------------------------------------------------------------
# Measures


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def row(
    step: str, calls: int, minimum: int, wall: float, limit: tuple[int, float], throttled: int
) -> dict[str, Any]:
    per, window = limit
    return {
        "step": step,
        "calls": calls,
        "min_calls": minimum,
        "wall_s": round(wall, 2),
        "predicted_s": round(calls / per * window, 2),
        "http_429": throttled,
    }


def hubspot_calls(fake: FakeHubSpot) -> int:
    return sum(fake.calls.values())


def run(invoices: int, customers: int, changed_share: float) -> dict[str, Any]:
    pennylane = build_pennylane(invoices, customers)
    hubspot = build_hubspot(customers)
    pl_fake._openapi()  # build the request validator (~6 s) before any clock starts
    source = PennylaneConnector("pl", pennylane.token, currency="EUR")
    target = HubSpotTarget(HUBSPOT_TOKEN, properties={PROPERTY: "Encours"})
    rows: list[dict[str, Any]] = []
    open_by_invoice: dict[str, tuple[str, Decimal]] = {}

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        pennylane.register(rsps)
        hubspot.install(rsps)

        # 1. full pull
        pull, wall = timed(lambda: source.pull(None))
        records, wall_records = timed(lambda: fold(pull.records, open_by_invoice))
        position = pull.position()
        minimum = math.ceil(customers / 100) + math.ceil(invoices / 100)
        minimum += balance_calls(math.ceil(customers / 1000), customers)
        rows.append(
            row(
                "pennylane full pull",
                len(pennylane.calls),
                minimum,
                wall + wall_records,
                PL_LIMIT,
                pennylane.throttled,
            )
        )
        rows[-1]["records"] = records

        # 2. full push
        values = outstanding(open_by_invoice)
        changes = {company: {PROPERTY: value} for company, value in values.items()}
        _, wall = timed(lambda: target.push(changes))
        rows.append(
            row(
                "hubspot full push",
                hubspot_calls(hubspot),
                math.ceil(len(changes) / 100),
                wall,
                HS_LIMIT,
                hubspot.throttled,
            )
        )
        rows[-1]["companies"] = len(changes)

        # 3. incremental: some invoices paid after the first position, read by a new run
        # (a new connector, so a new pacer) once the last window of step 1 is over: else
        # step 1's pacing would be charged to this step.
        time.sleep(PL_LIMIT[1])
        source = PennylaneConnector("pl", pennylane.token, currency="EUR")
        since = datetime.fromisoformat(json.loads(position)["processed_at"])
        paid = sorted(
            random.Random(7).sample(sorted(pennylane.invoices), k=round(invoices * changed_share))
        )
        pay(pennylane, paid, since + timedelta(seconds=1))
        pl_before, pl_429_before = len(pennylane.calls), pennylane.throttled
        pull, wall = timed(lambda: source.pull(position))
        records, wall_records = timed(lambda: fold(pull.records, open_by_invoice))
        touched = len({pennylane.invoices[i]["customer"]["id"] for i in paid})
        minimum = 2 + math.ceil(len(paid) / 100) + 1 + len(paid)
        minimum += math.ceil(touched / 100) + balance_calls(math.ceil(touched / 100), customers)
        rows.append(
            row(
                f"pennylane incremental ({len(paid)} invoices)",
                len(pennylane.calls) - pl_before,
                minimum,
                wall + wall_records,
                PL_LIMIT,
                pennylane.throttled - pl_429_before,
            )
        )
        rows[-1]["records"] = records

        now = outstanding(open_by_invoice)
        delta = {c: {PROPERTY: v} for c, v in now.items() if values.get(c) != v}
        hs_before, hs_429_before = hubspot_calls(hubspot), hubspot.throttled
        _, wall = timed(lambda: target.push(delta))
        rows.append(
            row(
                f"hubspot incremental push ({len(delta)} companies)",
                hubspot_calls(hubspot) - hs_before,
                math.ceil(len(delta) / 100),
                wall,
                HS_LIMIT,
                hubspot.throttled - hs_429_before,
            )
        )
        rows[-1]["companies"] = len(delta)
        check = {c: hubspot.companies[c].get(PROPERTY) for c in now}

    problems = pennylane.violations + hubspot.violations
    if check != now:
        problems.append("HubSpot does not hold the outstanding amounts computed from Pennylane")
    return {
        "invoices": invoices,
        "customers": customers,
        "changed_share": changed_share,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows,
        "problems": problems[:20],
    }


# ---------------------------------------------------------------------------------------------
# Stripe: a section of its own


def run_stripe(invoices: int, customers: int, changed_share: float) -> dict[str, Any]:
    """Stripe's source against its fake at Stripe's limit (25 requests/s), on the real clock.

    Full read: minimum = ceil(C / 100) customers + ceil(N / 100) invoices + 1 page of credit
    notes (none here); predicted = calls / 25 x 1 s. Nightly read: a share of the invoices is
    paid (2 events each: `invoice.paid`, `invoice.updated`), then `pull(position)`: minimum =
    ceil(events / 100), the objects being in the events.
    """
    fake = stripe_fake.FakeStripe(clock=RealClock())  # type: ignore[arg-type]
    made = datetime.now(UTC) - timedelta(days=40)
    ids = [f"cus_{c}" for c in range(customers)]
    fake.customers = {ident: stripe_fake.customer(ident, ident) for ident in ids}
    for n in range(invoices):
        fake.invoices[f"in_{n}"] = stripe_fake.invoice(
            f"in_{n}", f"cus_{n % customers}", 10_000, created=made, status="open"
        )
    limit = (stripe_fake.LIMIT, stripe_fake.WINDOW)
    rows, problems = [], []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        source = StripeSource("st", stripe_client(fake.token), currency="EUR")
        pull = source.pull(None)
        read, wall = timed(lambda: sum(1 for _ in pull.records))
        minimum = math.ceil(customers / 100) + math.ceil(invoices / 100) + 1
        rows.append(row("stripe full pull", len(fake.calls), minimum, wall, limit, fake.throttled))
        position, before, throttled = pull.position(), len(fake.calls), fake.throttled
        paid = random.Random(7).sample(range(invoices), max(1, int(invoices * changed_share)))
        for n in paid:
            fake.pay(f"in_{n}", datetime.now(UTC))
        pull = source.pull(position)
        _, wall = timed(lambda: sum(1 for _ in pull.records))
        calls, minimum = len(fake.calls) - before, math.ceil(2 * len(paid) / 100)
        step = f"stripe incremental ({len(paid)} paid)"
        rows.append(row(step, calls, minimum, wall, limit, fake.throttled - throttled))
    if read < customers + invoices:
        problems.append(f"Stripe: {read} records read, fewer than the objects")
    return {"rows": rows, "problems": fake.violations[:20] + problems}


# ---------------------------------------------------------------------------------------------
# Xero: a section of its own


def run_xero(invoices: int, customers: int, changed_share: float) -> dict[str, Any]:
    """Xero's source against its fake at Xero's limit (60 calls a minute), on the real clock.

    Full read: minimum = ceil(C / 1000) contacts + ceil(N / 1000) invoices + 1 page each of
    credit notes, prepayments and overpayments (none here); predicted = calls / 60 x 60 s.
    Nightly read: a share of the invoices is paid, then `pull(position)` with If-Modified-Since:
    minimum = ceil(paid / 1000) invoices + 1 page each of the four other lists + 1 call for
    the payments deleted since. The token exchange (one a run) is not an API call.
    """
    fake = xero_fake.FakeXero(clock=RealClock())  # type: ignore[arg-type]
    made = datetime.now(UTC) - timedelta(days=40)
    ids = [f"c{c:06}" for c in range(customers)]
    fake.add("Contacts", *(xero_fake.contact(ident, ident, updated=made) for ident in ids))
    fake.add("Invoices", *(xero_fake.invoice(f"i{n:07}", ids[n % customers], "100.00", on=made)
                           for n in range(invoices)))  # fmt: skip
    limit = (xero_fake.LIMIT, xero_fake.WINDOW)
    rows, problems = [], []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        auth = OAuth2RefreshAuth(xero_fake.TOKEN_URL, fake.client_id, fake.client_secret,
                                 fake.refresh_token, save=lambda _token: None)  # fmt: skip
        source = XeroSource("xe", xero_client(fake.tenant, auth), currency="EUR")
        pull = source.pull(None)
        read, wall = timed(lambda: sum(1 for _ in pull.records))
        minimum = math.ceil(customers / 1000) + math.ceil(invoices / 1000) + 3
        rows.append(row("xero full pull", len(fake.calls), minimum, wall, limit, fake.throttled))
        position, before, throttled = pull.position(), len(fake.calls), fake.throttled
        paid = random.Random(7).sample(range(invoices), max(1, int(invoices * changed_share)))
        time.sleep(1)  # If-Modified-Since is to the second
        for n in paid:
            fake.pay(f"i{n:07}", "100.00", datetime.now(UTC))
        _, wall = timed(lambda: sum(1 for _ in source.pull(position).records))
        calls, minimum = len(fake.calls) - before, math.ceil(len(paid) / 1000) + 5
        step = f"xero incremental ({len(paid)} paid)"
        rows.append(row(step, calls, minimum, wall, limit, fake.throttled - throttled))
    if read < customers + invoices:
        problems.append(f"Xero: {read} records read, fewer than the documents")
    return {"rows": rows, "problems": fake.violations[:20] + problems}


# -- Sellsy: a whole read (nothing can be asked "since"), then one PUT per changed company ------


def run_sellsy(invoices: int, customers: int, changed_share: float) -> list[dict[str, Any]]:
    """Sellsy's rows: calls of a full pull and of a push, against its minimum.

    Minimum calls of the pull: n // 100 + 1 per list (100 a page; a short page ends a seek
    list, which has no "has more" flag), for companies, individuals (none), invoices, credit
    notes (none) and payments (one per invoice paid, `changed_share` of them). The push
    writes `changed_share` of the companies, one PUT each (Sellsy has no batch write for
    custom fields). Real clock, the connector's own pacer (4 a second under Sellsy's 5).
    """
    from encours.connectors import sellsy

    fake = sy_fake.FakeSellsy(clock=sy_fake.WallClock())
    fake.companies = {c: sy_fake.company(c, f"Client {c}") for c in range(1, customers + 1)}
    fake.invoices = {
        i: sy_fake.invoice(i, 1 + (i - 1) % customers, f"{100 + i % 5000}.00")
        for i in range(1, invoices + 1)
    }
    paid = max(1, int(invoices * changed_share))
    fake.payments = {
        i: sy_fake.payment(i, fake.invoices[i]["related"][0]["id"], "100.00", on="2026-02-01",
                           links=((i, "100.00", "2026-02-01"),))
        for i in range(1, paid + 1)
    }  # fmt: skip
    for code in ("encours_outstanding",):
        fake.add_field(code, "Encours")
    sy_fake._openapi()  # build the request validator before any clock starts
    rows = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        http = sellsy.make_client(fake.client_id, fake.client_secret)
        source = sellsy.SellsySource("sy", http, currency="EUR")
        _, wall = timed(lambda: sum(1 for _ in source.pull(None).records))
        minimum = sum(n // sellsy.PAGE_SIZE + 1 for n in (customers, 0, invoices, 0, paid))
        limit = (sellsy.MAX_CALLS, sellsy.PER_SECONDS)
        rows.append(row("sellsy: full pull", len(fake.calls), minimum, wall, limit, fake.throttled))
        before = len(fake.calls)
        changed = max(1, int(customers * changed_share))
        target = sellsy.SellsyTarget(http, fields={"encours_outstanding": "Encours"})
        values = {str(c): {"encours_outstanding": "1.00"} for c in range(1, changed + 1)}
        _, wall = timed(lambda: target.push(values))
        calls = len(fake.calls) - before
        rows.append(row("sellsy: push (1 custom-fields list + 1 PUT each)", calls, 1 + changed,
                        wall, limit, fake.throttled))  # fmt: skip
    assert fake.violations == [], fake.violations[:3]
    return rows


# -- Dolibarr: pages of 100, the payments of each paid invoice, one PUT per changed third party --


def run_dolibarr(invoices: int, customers: int, changed_share: float) -> list[dict[str, Any]]:
    """Dolibarr's rows: calls of a full pull and of a push, against its minimum.

    Minimum calls of the pull: n // 100 + 1 per list (pages of 100 from 0; a short page is
    the last), for third parties and invoices, + 1 `GET /invoices/{id}/payments` per invoice
    with something paid (`changed_share` of them: the day of the money is in no list). The
    push writes `changed_share` of the third parties, one PUT each (no batch write). Real
    clock, the connector's own pacer (10 a second: Dolibarr publishes no limit).
    """
    from encours.connectors import dolibarr

    fake = doli_fake.FakeDolibarr()
    fake.thirdparties = {c: doli_fake.thirdparty(c, f"Client {c}") for c in range(1, customers + 1)}
    paid = max(1, int(invoices * changed_share))
    fake.invoices = {
        i: doli_fake.invoice(i, 1 + (i - 1) % customers, "100.00", paid="100" if i <= paid else "0")
        for i in range(1, invoices + 1)
    }
    fake.payments = {
        i: [doli_fake.paid("100", "2026-02-01", f"PAY-{i}")] for i in range(1, paid + 1)
    }
    fake.extrafields = {"encours_outstanding": {"type": "varchar", "label": "Encours"}}
    doli_fake._openapi()  # build the request validator before any clock starts
    limit = (dolibarr.MAX_CALLS, dolibarr.PER_SECONDS)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.register(rsps)
        http = dolibarr.make_client(doli_fake.URL, fake.api_key)
        source = dolibarr.DolibarrSource("doli", http, currency="EUR")
        _, wall = timed(lambda: sum(1 for _ in source.pull(None).records))
        minimum = customers // dolibarr.PAGE_SIZE + 1 + invoices // dolibarr.PAGE_SIZE + 1 + paid
        rows = [row("dolibarr: full pull", len(fake.calls), minimum, wall, limit, 0)]
        before, changed = len(fake.calls), max(1, int(customers * changed_share))
        target = dolibarr.DolibarrTarget(http, fields={"encours_outstanding": "Encours"})
        values = {str(c): {"encours_outstanding": "1.00"} for c in range(1, changed + 1)}
        _, wall = timed(lambda: target.push(values))
        calls = len(fake.calls) - before
        rows.append(row("dolibarr: push (1 PUT each)", calls, changed, wall, limit, 0))
    assert fake.violations == [], fake.violations[:3]
    return rows


def print_table(result: dict[str, Any]) -> None:
    head = f"{'step':<44}{'calls':>7}{'min':>6}{'wall s':>9}{'pred. s':>9}{'429s':>6}"
    print(head)
    print("-" * len(head))
    for r in result["rows"]:
        print(
            f"{r['step']:<44}{r['calls']:>7}{r['min_calls']:>6}{r['wall_s']:>9.2f}"
            f"{r['predicted_s']:>9.2f}{r['http_429']:>6}"
        )
    print("predicted = calls / 25 x 5 s (Pennylane), calls / 100 x 10 s (HubSpot), "
          "calls / 25 x 1 s (Stripe), calls / 60 x 60 s (Xero)")  # fmt: skip
    if result["problems"]:
        print("PROBLEMS:", *result["problems"], sep="\n  ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--companies", type=int, default=5_000, help="customers = companies")
    parser.add_argument("--changed", type=float, default=0.01, help="share of invoices paid")
    args = parser.parse_args()
    if not pl_fake.SPEC_PATH.exists():
        print(f"Pennylane's OpenAPI file is missing: {pl_fake.SPEC_PATH}", file=sys.stderr)
        return 2
    result = run(args.invoices, args.companies, args.changed)
    stripe = run_stripe(args.invoices, args.companies, args.changed)
    result["rows"] += stripe["rows"]
    result["problems"] += stripe["problems"]
    xero = run_xero(args.invoices, args.companies, args.changed)
    result["rows"] += xero["rows"]
    result["problems"] += xero["problems"]
    if sy_fake.SPEC_PATH.exists():
        result["rows"] += run_sellsy(args.invoices, args.companies, args.changed)
    if doli_fake.SPEC_PATH.exists():
        result["rows"] += run_dolibarr(args.invoices, args.companies, args.changed)
    print_table(result)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / "api_results.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
