"""The cap on payment terms between professionals (Code de commerce L441-10).

Terms may not exceed 60 days from the invoice date, or, where the contract says so, 45 days
end of month. French practice reads "45 jours fin de mois" two ways, both admitted: the
invoice date + 45 days then to the end of that month, or the end of the invoice's month +
45 days. An invoice is flagged only when its last due date is past all three limits, so a
flag is a sure breach:

    limit = max(issued + 60 days, end_of_month(issued + 45 days), end_of_month(issued) + 45 days)

Worked example: invoice of 20 January 2026: + 60 days is 21 March; + 45 days is 6 March,
end of month 31 March; 31 January + 45 days is 17 March. Limit: 31 March. Due 31 March:
within; due 1 April: flagged. Invoice of 1 January 2026: 2 March, 28 February, 17 March:
limit 17 March.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

MAX_DAYS = 60
MAX_DAYS_END_OF_MONTH = 45


def end_of_month(day: date) -> date:
    """The last day of `day`'s month.

    >>> end_of_month(date(2024, 2, 10))
    datetime.date(2024, 2, 29)
    """
    first_of_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def latest_lawful_due_date(issued_on: date) -> date:
    """The latest due date L441-10 allows for an invoice dated `issued_on` (see above).

    >>> latest_lawful_due_date(date(2026, 1, 20))
    datetime.date(2026, 3, 31)
    >>> latest_lawful_due_date(date(2026, 1, 1))
    datetime.date(2026, 3, 17)
    """
    return max(
        issued_on + timedelta(days=MAX_DAYS),
        end_of_month(issued_on + timedelta(days=MAX_DAYS_END_OF_MONTH)),
        end_of_month(issued_on) + timedelta(days=MAX_DAYS_END_OF_MONTH),
    )


@dataclass(frozen=True, slots=True)
class TermsBreach:
    """An invoice whose terms exceed the cap: due `due_on`, the law allowing `limit`."""

    source: str
    customer_id: str
    invoice_id: str
    number: str | None
    issued_on: date
    due_on: date

    @property
    def limit(self) -> date:
        """The latest due date the law allows."""
        return latest_lawful_due_date(self.issued_on)

    @property
    def days_over(self) -> int:
        """How many days past the limit the invoice falls due."""
        return (self.due_on - self.limit).days


def breaks_terms_cap(issued_on: date, due_on: date) -> bool:
    """Whether an invoice due `due_on` breaks the cap.

    >>> breaks_terms_cap(date(2026, 1, 20), date(2026, 3, 31))
    False
    >>> breaks_terms_cap(date(2026, 1, 20), date(2026, 4, 1))
    True
    """
    return due_on > latest_lawful_due_date(issued_on)
