"""The credit limit (plafond d'encours): exposure, the share of the limit used, the hold flag.

    exposure = outstanding + drafts
    usage    = exposure / credit limit          (1 = the limit is reached)
    on hold  = exposure > credit limit          (stop new orders and deliveries)

Drafts are in no ledger and in no other figure, but they are sales the customer is about to
owe: a credit limit watches them too. Amounts are minor units of the company currency; no
limit (None or 0) gives no usage and no hold.

Worked example: a limit of 10 000.00, an outstanding of 8 500.00 and a draft of 2 000.00:
exposure 10 500.00, usage 1.05, on hold (new orders stop although the outstanding alone is
below the limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class CreditPosition:
    """One customer's exposure against its credit limit, in minor units."""

    limit: int | None
    exposure: int

    @property
    def usage(self) -> Decimal | None:
        """Exposure / limit; None without a limit.

        >>> CreditPosition(limit=1_000_000, exposure=1_050_000).usage
        Decimal('1.05')
        """
        if not self.limit:
            return None
        return Decimal(self.exposure) / Decimal(self.limit)

    @property
    def on_hold(self) -> bool:
        """True when the exposure passes the limit (equal to it is still within).

        >>> CreditPosition(limit=1_000_000, exposure=1_000_000).on_hold
        False
        """
        return bool(self.limit) and self.exposure > (self.limit or 0)


def credit_position(outstanding: int, drafts: int, limit: int | None) -> CreditPosition:
    """The position of a customer owing `outstanding`, with `drafts` about to be invoiced.

    >>> position = credit_position(850_000, 200_000, 1_000_000)
    >>> position.exposure, position.usage, position.on_hold
    (1050000, Decimal('1.05'), True)
    """
    return CreditPosition(limit=limit, exposure=outstanding + drafts)
