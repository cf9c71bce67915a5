"""Bulk documents for the Tryton benchmark, through Tryton's own ORM, in process.

    python bench/tryton_seed.py DATABASE CONFIG_FILE INVOICES TODAY

On a database where `tests/tryton/scenario.py --company-only` made the company: INVOICES
customer invoices over the last 240 days for INVOICES // 10 customers (with a SIREN), posted
in date order; 60 % paid in full (a payment reconciled with the invoice), 10 % paid in part
(a payment linked to the invoice, as the pay wizard does), the rest open; and one payment on
account for every 50 invoices. Report rendering is left to a queue no worker runs (the
config sets `[queue] worker = True`): it is what posting costs most and encours reads no PDF.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

from trytond.config import config as trytond_config

BATCH = 200


def luhn_siren(seed: int) -> str:
    """A valid SIREN (Luhn) from a number: 8 digits then the check digit."""
    body = f"{seed:08d}"[-8:]
    for check in range(10):
        digits = [int(d) for d in body + str(check)]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                    for i, d in enumerate(digits))  # fmt: skip
        if total % 10 == 0:
            return body + str(check)
    raise AssertionError


def main(database: str, config_file: str, count: int, today: date) -> None:
    trytond_config.update_etc(config_file)
    from trytond.pool import Pool

    Pool.start()
    Pool(database).init()
    randomness = random.Random(20261123)  # noqa: S311 - reproducible data, no secret
    started = time.perf_counter()
    customers = _in_transaction(database, lambda pool: _customers(pool, max(count // 10, 1)))
    plan = [
        (
            on,
            randomness.randrange(len(customers)),
            randomness.randrange(3),  # one of the three credit terms
            Decimal(randomness.randrange(10000, 500000)) / 100,
            randomness.random(),
            min(on + timedelta(days=randomness.randrange(10, 70)), today),
        )
        for on in sorted(today - timedelta(days=randomness.randrange(240)) for _ in range(count))
    ]
    for at in range(0, count, BATCH):
        batch = plan[at : at + BATCH]
        _in_transaction(database, lambda pool, batch=batch: _invoices(pool, customers, batch))
        print(f"  {at + len(batch)} / {count}", flush=True)
    transfers = [
        (randomness.randrange(len(customers)), today - timedelta(days=randomness.randrange(30)))
        for _ in range(count // 50)
    ]
    _in_transaction(database, lambda pool: _on_account(pool, customers, transfers))
    print(f"seeded {count} invoices in {time.perf_counter() - started:.1f} s")


#: Tables the seeding transactions lock up front (SQLite locks the whole file anyway).
_LOCKED_TABLES: list[str] = []


def _in_transaction(database: str, work):  # noqa: ANN001, ANN202
    """Run `work(pool)` in one committed transaction, as trytond's dispatcher does: a
    transaction that must lock records is started again with them locked (here their whole
    table, remembered for the next batches, which would otherwise start over each time)."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError

    while True:
        try:
            with Transaction().start(
                database, 0, context={"_skip_warnings": True}, _lock_tables=_LOCKED_TABLES
            ) as transaction:
                pool = Pool(database)
                (company,) = pool.get("company.company").search([])
                with transaction.set_context(company=company.id):
                    result = work(pool)
                transaction.commit()
                return result
        except TransactionError as error:
            wanted: dict = {}
            error.fix(wanted)
            _LOCKED_TABLES.extend(
                [*wanted.get("_lock_tables", []), *wanted.get("_lock_records", {})]
            )


def _customers(pool, count: int) -> list[int]:  # noqa: ANN001
    parties = pool.get("party.party").create(
        [
            {
                "name": f"Client {i:05d} SAS",
                "identifiers": [("create", [{"type": "fr_siren", "code": luhn_siren(i + 1)}])],
                "addresses": [("create", [{"city": "Lyon", "postal_code": "69001"}])],
            }
            for i in range(count)
        ]
    )
    return [party.id for party in parties]


def _invoices(pool, customers: list[int], batch: list[tuple]) -> None:  # noqa: ANN001
    party_model = pool.get("party.party")
    invoice_model = pool.get("account.invoice")
    line_model = pool.get("account.move.line")
    (revenue,) = pool.get("account.account").search([("code", "=", "706")])
    (vat,) = pool.get("account.tax").search([("name", "=", "T.V.A. Vente de services Taux Normal")])
    terms = pool.get("account.invoice.payment_term").search(
        [("name", "!=", "Comptant")], order=[("id", "ASC")]
    )
    (method,) = pool.get("account.invoice.payment.method").search([])
    (company,) = pool.get("company.company").search([])
    (journal,) = pool.get("account.journal").search([("type", "=", "revenue")], limit=1)
    values = []
    for on, customer, term, price, _, _ in batch:
        party = party_model(customers[customer])
        values.append(
            {
                "type": "out",
                "company": company.id,
                "currency": company.currency.id,
                "journal": journal.id,
                "party": party.id,
                "invoice_address": party.addresses[0].id,
                "account": party.account_receivable_used.id,
                "payment_term": terms[term].id,
                "invoice_date": on,
                "lines": [
                    ("create", [
                        {"account": revenue.id, "description": "Prestation", "quantity": 1,
                         "unit_price": price, "taxes": [("add", [vat.id])]},
                    ]),
                ],
            }
        )  # fmt: skip
    invoices = invoice_model.create(values)
    invoice_model.post(invoices)
    for invoice, (_, _, _, _, fate, paid_on) in zip(invoices, batch, strict=True):
        if fate < 0.6:
            lines = invoice.pay_invoice(invoice.total_amount, method, paid_on)
            line_model.reconcile([*invoice.lines_to_pay, *lines])
        elif fate < 0.7:
            part = (invoice.total_amount * Decimal("0.4")).quantize(Decimal("0.01"))
            invoice.pay_invoice(part, method, paid_on)


def _on_account(pool, customers: list[int], transfers: list[tuple[int, date]]) -> None:  # noqa: ANN001
    party_model = pool.get("party.party")
    (method,) = pool.get("account.invoice.payment.method").search([])
    (company,) = pool.get("company.company").search([])
    period_model = pool.get("account.period")
    moves = []
    for number, (customer, on) in enumerate(transfers):
        party = party_model(customers[customer])
        moves.append(
            {
                "company": company.id,
                "journal": method.journal.id,
                "date": on,
                "period": period_model.find(company, date=on).id,
                "description": f"Virement non affecté {number}",
                "lines": [
                    ("create", [
                        {"account": method.debit_account.id, "debit": Decimal(100), "credit": 0},
                        {"account": party.account_receivable_used.id, "party": party.id,
                         "debit": 0, "credit": Decimal(100)},
                    ]),
                ],
            }
        )  # fmt: skip
    move_model = pool.get("account.move")
    move_model.post(move_model.create(moves))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), date.fromisoformat(sys.argv[4]))
