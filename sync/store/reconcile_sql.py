"""Reconciliation of every dirty customer at once, as SQL over the store's tables.

The same rules as `reconcile.py` (which stays the documented reference, one customer at a
time, in Python), in the same order, each rule one set-based pass over all the customers
listed in `dirty_customers`. What is left of each due line and of each credit (`rest`) is
kept in temporary tables between the rules, so each rule only sees what the stronger ones
left over.

First in, first out, as an overlap of running totals. When credits are taken in their
order and each gives what it has to due lines taken in theirs (rules `match_group` within a
lettrage group, `advance_applied`, `oldest_first`), line `l` covers the interval
`[L_l - rest_l, L_l)` and credit `c` the interval `[C_c - rest_c, C_c)`, where `L` and `C` are
running totals (`SUM(rest) OVER (PARTITION BY customer ORDER BY ...)`). Credit `c` gives line
`l`

    amount(c, l) = LEAST(L_l, C_c) - GREATEST(L_l - rest_l, C_c - rest_c)

for every pair whose intervals overlap (`L_l - rest_l < C_c` and `C_c - rest_c < L_l`).
Example: lines i1 100.00 (due 31 Jan) and i2 100.00 (due 28 Feb), payments P1 130.00 and
P2 90.00: i1 is [0, 100), i2 [100, 200), P1 [0, 130), P2 [130, 220); P1 gives i1 100.00
and i2 30.00, P2 gives i2 70.00; 20.00 of P2 is left over.

Exact amount, oldest first: the k-th credit (in credit order) with `rest` A pairs with the
k-th invoice (oldest first) whose lines have `rest` A in all, `ROW_NUMBER()` on both sides
partitioned by (customer, A).

Rules 1 (`source_link`) and 3 (`same_reference`) are not first in, first out: a credit gives
to several invoices in turn (its links, then what it `applies_to`; an advance's order, then
its reference), and the lines a payment may reach by reference are not those a credit note
may (`_may_guess`). They are computed over the pairs (step, line) they may allocate, where a
step is one `allocate` call of the reference (a credit and a link, an `applies_to`, an order
or a reference), as the equations the reference's loop satisfies:

    take(s, l) = GREATEST(0, LEAST(limit_s        - taken earlier by step s,
                                   rest_c         - taken earlier from credit c of s,
                                   rest_l         - taken earlier from line l))

"earlier" meaning in the reference's order (credit order, then step, then line order), so a
pair depends only on earlier pairs: the system has one solution, which is the reference's
result. It is solved by rounds, each one statement recomputing every pair from the previous
round's values, until nothing changes: after round k every pair whose chain of earlier pairs
is shorter than k is right, and a round that changes nothing has reached the solution. Typical
data takes two or three rounds (a credit with one link: one round, and one to see nothing
changes); a credit whose links together exceed its amount, or credits competing for the same
invoice through different steps, take a few more, and stay exact.

Dates: an allocation is dated `GREATEST(credit on, line issued_on, the rule's own date)` as in
`_Allocator.allocate`: the link's date for a link; the later match date of the pair for a
lettrage, none for the use of an advance.

The SQL keeps to what DuckDB and PostgreSQL share (window functions, CTEs, temporary tables,
`UPDATE ... FROM`). Text keys are ordered as the reference orders Python strings, by code
point: DuckDB's default; on PostgreSQL the database (or the id columns) needs the "C"
collation for the same order.
"""

# ruff: noqa: S608 - the SQL is put together from this module's own constants only; the one
# value from outside, the names of the complete sources, is passed as a parameter.
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from encours.model import AllocationRule, CreditKind, InvoiceKind

_INVOICE_UNBILLED = f"'{InvoiceKind.UNBILLED.value}'"
_ADVANCE_USE = f"'{InvoiceKind.ADVANCE_USE.value}'"
#: Debits that no guess may settle (reconcile._NOT_GUESSED).
_NOT_GUESSED = f"({_INVOICE_UNBILLED}, {_ADVANCE_USE})"
_PAYMENT = f"'{CreditKind.PAYMENT.value}'"
_CREDIT_NOTE = f"'{CreditKind.CREDIT_NOTE.value}'"
_ADVANCE = f"'{CreditKind.ADVANCE.value}'"

_TEMP_TABLES = (
    "reconcile_customer",
    "reconcile_linked",
    "reconcile_frozen",
    "reconcile_kept",
    "reconcile_due",
    "reconcile_credit",
    "reconcile_alloc",
    "reconcile_pair",
    "reconcile_next",
    "reconcile_settled",
    "reconcile_used",
)

#: A due line's lettrage group: its own code, else its invoice's; '' is none.
_LINE_GROUP = "NULLIF(COALESCE(d.match_ref, i.match_ref), '')"

_ALLOCATION_COLUMNS = (
    "source, customer_id, credit_id, invoice_id, due_seq, amount, allocated_on, rule"
)
#: Room for each customer's due lines and credits in `line_no` and `credit_no` (`_load`).
_PER_CUSTOMER = 2**32
#: What a rule writes into `reconcile_alloc`: the integer keys (`_load`) that the next rules
#: read, the text keys that `allocations` keeps, the amount, date and rule.
_RULE_COLUMNS = (
    "cust, credit_no, line_no, credit_id, invoice_id, due_seq, amount, allocated_on, rule"
)


def reconcile_dirty_sql(con: Any, *, oldest_first: bool, complete_sources: Collection[str]) -> int:
    """Reconcile every customer in `dirty_customers`; return how many there are.

    For each (source, customer_id) listed: its `allocations` are replaced by the ones the
    rules give now, and `due_lines.settled_on` (the date of the last allocation of a wholly
    allocated due line, else NULL) and `credits.used_on` (the same for a wholly used credit)
    are set on its rows. Sources in `complete_sources` guess nothing (`guess=False` in the
    reference: only `source_link`, `match_group` and `advance_applied`). Credits without a
    customer are not reconciled. `dirty_customers` is left as it is: the caller clears it.
    Only the dates that change are updated.

    `con` is a DB-API connection with `execute` (DuckDB's); run it inside the caller's
    transaction to replace every customer's reconciliation at once.
    """
    _drop(con)
    _load(con, complete_sources)
    if _exists(con, _SOURCE_LINK_CANDIDATES):
        _by_pairs(con, _SOURCE_LINK_PAIRS, AllocationRule.SOURCE_LINK)
    _fifo(
        con,
        AllocationRule.MATCH_GROUP,
        lines_where="d.match_ref IS NOT NULL",
        credits_where="c.match_ref IS NOT NULL",
        group="match_ref",
        # The later match date of the pair, none for the use of an advance (reconcile.py).
        on=f"""CASE WHEN d.kind = {_ADVANCE_USE} THEN NULL
                ELSE GREATEST(COALESCE(c.matched_on, d.matched_on),
                              COALESCE(d.matched_on, c.matched_on)) END""",
    )
    _fifo(
        con,
        AllocationRule.ADVANCE_APPLIED,
        lines_where=f"d.kind = {_ADVANCE_USE}",
        credits_where=f"c.kind = {_ADVANCE}",
    )
    _by_pairs(con, _SAME_REFERENCE_PAIRS, AllocationRule.SAME_REFERENCE)
    _exact_amount(con)
    if oldest_first:
        _fifo(
            con,
            AllocationRule.OLDEST_FIRST,
            lines_where=f"d.guess AND d.kind NOT IN {_NOT_GUESSED}",
            credits_where=f"c.guess AND c.kind = {_PAYMENT}",
        )
    count = _write(con)
    _drop(con)
    return count


def _drop(con: Any) -> None:
    for table in _TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _exists(con: Any, query: str) -> bool:
    """Whether `query` returns a row: a cheap look before a rule's costlier statements."""
    (found,) = con.execute(f"SELECT EXISTS ({query})").fetchone()
    return bool(found)


def _load(con: Any, complete_sources: Collection[str]) -> None:
    """Copy the dirty customers' due lines and credits, numbered in the reference's order.

    `cust` numbers the dirty customers. `line_no` numbers the due lines: `cust` × 2³² + the
    line's rank in its customer's reference order (due_on, issued_on, invoice_id, seq), so one
    integer is unique and sorts by customer, then in that order (customer 3's second line is
    12 884 901 890); `inv_no` is an invoice's first line's `line_no` and `inv_kind` that
    line's kind (what rule 4 reads). `credit_no` numbers the credits the same way in theirs
    (on_date, external_id). The rules then partition, order and join by these integers.
    `rest` is what is left; the stored `settled_on` and `used_on` are kept to write back only
    the dates that change. '' is no reference, as in the reference's truth tests. The
    frozen groups' lines and credits are left out by an anti join written as a LEFT JOIN
    that keeps the rows it found no frozen group for: a hash join, where a NOT EXISTS on
    the line's group (an expression) took DuckDB twice as long.
    """
    con.execute(
        """
        CREATE TEMP TABLE reconcile_customer AS
        SELECT ROW_NUMBER() OVER (ORDER BY source, customer_id) AS cust, source, customer_id,
               TRUE AS guess
        FROM dirty_customers
        """
    )
    if complete_sources:
        con.executemany(
            "UPDATE reconcile_customer SET guess = FALSE WHERE source = ?",
            [(s,) for s in sorted(complete_sources)],
        )
    _freeze(con)
    con.execute(
        f"""
        CREATE TEMP TABLE reconcile_due AS
        WITH line AS (
            SELECT k.cust, k.guess, d.invoice_id, d.seq, d.issued_on, d.kind,
                   NULLIF(i.number, '') AS number,
                   {_LINE_GROUP} AS match_ref,
                   i.matched_on, NULLIF(i.order_ref, '') AS order_ref,
                   d.amount, d.amount AS rest, d.settled_on,
                   k.cust * {_PER_CUSTOMER} + ROW_NUMBER() OVER (
                       PARTITION BY k.cust ORDER BY d.due_on, d.issued_on, d.invoice_id, d.seq
                   ) AS line_no
            FROM reconcile_customer k
            JOIN due_lines d ON d.source = k.source AND d.customer_id = k.customer_id
            JOIN invoices i ON i.source = d.source AND i.external_id = d.invoice_id
            LEFT JOIN reconcile_frozen f ON f.cust = k.cust AND f.match_ref = {_LINE_GROUP}
            WHERE f.cust IS NULL
        )
        SELECT line.*, FIRST_VALUE(line_no) OVER invoice AS inv_no,
               FIRST_VALUE(kind) OVER invoice AS inv_kind
        FROM line
        WINDOW invoice AS (PARTITION BY cust, invoice_id ORDER BY line_no)
        """
    )
    con.execute(
        f"""
        CREATE TEMP TABLE reconcile_credit AS
        SELECT k.cust, k.guess, c.external_id AS credit_id, c.kind, c.on_date,
               NULLIF(c.reference, '') AS reference,
               NULLIF(c.match_ref, '') AS match_ref, c.matched_on,
               NULLIF(c.applies_to, '') AS applies_to, c.is_on_order,
               NULLIF(c.order_ref, '') AS order_ref,
               c.amount, c.amount AS rest, c.used_on,
               k.cust * {_PER_CUSTOMER} + ROW_NUMBER() OVER (
                   PARTITION BY k.cust ORDER BY c.on_date, c.external_id
               ) AS credit_no
        FROM reconcile_customer k
        JOIN credits c ON c.source = k.source AND c.customer_id = k.customer_id
        LEFT JOIN reconcile_frozen f ON f.cust = k.cust AND f.match_ref = NULLIF(c.match_ref, '')
        WHERE f.cust IS NULL
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE reconcile_alloc (
            cust BIGINT NOT NULL, credit_no BIGINT NOT NULL, line_no BIGINT NOT NULL,
            credit_id TEXT NOT NULL, invoice_id TEXT NOT NULL, due_seq INTEGER NOT NULL,
            amount BIGINT NOT NULL, allocated_on DATE NOT NULL, rule TEXT NOT NULL
        )
        """
    )


def _freeze(con: Any) -> None:
    """`reconcile_frozen` (cust, match_ref): the closed groups the rules leave as they are.

    A group in `closed_groups` was, when last worked out, wholly settled by its own
    lettrage (rule 2, first in, first out within the group), in whole invoices, and out of
    every link; the write path took it out if a record it holds, held or now holds changed.
    Its members are then what they were: rule 1 reaches none of them (no link, checked
    again here on today's credits, `reconcile_linked`), rule 2 gives them the allocations
    it gave, which settle them all, and the later rules only see what is left. So their
    allocations and dates stay, and they are not loaded at all.
    """
    con.execute(
        f"""
        CREATE TEMP TABLE reconcile_linked AS
        WITH linker AS (
            SELECT k.cust, k.source, k.customer_id, c.external_id AS credit_id,
                   NULLIF(c.match_ref, '') AS match_ref, NULLIF(c.applies_to, '') AS applies_to
            FROM reconcile_customer k
            JOIN credits c ON c.source = k.source AND c.customer_id = k.customer_id
            WHERE NULLIF(c.applies_to, '') IS NOT NULL OR EXISTS (
                SELECT 1 FROM credit_links l
                WHERE l.source = c.source AND l.credit_id = c.external_id
            )
        ), target AS (
            SELECT cust, source, customer_id, applies_to AS invoice_id
            FROM linker WHERE applies_to IS NOT NULL
            UNION
            SELECT k.cust, k.source, k.customer_id, l.invoice_id
            FROM linker k JOIN credit_links l ON l.source = k.source AND l.credit_id = k.credit_id
        )
        SELECT cust, match_ref FROM linker WHERE match_ref IS NOT NULL
        UNION
        SELECT t.cust, {_LINE_GROUP}
        FROM target t
        JOIN due_lines d ON d.source = t.source AND d.customer_id = t.customer_id
         AND d.invoice_id = t.invoice_id
        JOIN invoices i ON i.source = d.source AND i.external_id = d.invoice_id
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE reconcile_frozen AS
        SELECT DISTINCT k.cust, g.match_ref
        FROM closed_groups g
        JOIN reconcile_customer k ON k.source = g.source AND k.customer_id = g.customer_id
        WHERE NOT EXISTS (
            SELECT 1 FROM reconcile_linked l WHERE l.cust = k.cust AND l.match_ref = g.match_ref
        )
        """
    )


def _apply(con: Any, rule: AllocationRule) -> None:
    """Take a rule's allocations off what is left of each due line and credit."""
    con.execute(
        f"""
        UPDATE reconcile_due SET rest = reconcile_due.rest - n.amount
        FROM (
            SELECT line_no, SUM(amount) AS amount FROM reconcile_alloc
            WHERE rule = '{rule.value}' GROUP BY line_no
        ) n
        WHERE reconcile_due.line_no = n.line_no
        """
    )
    con.execute(
        f"""
        UPDATE reconcile_credit SET rest = reconcile_credit.rest - n.amount
        FROM (
            SELECT credit_no, SUM(amount) AS amount FROM reconcile_alloc
            WHERE rule = '{rule.value}' GROUP BY credit_no
        ) n
        WHERE reconcile_credit.credit_no = n.credit_no
        """
    )


def _fifo(
    con: Any,
    rule: AllocationRule,
    *,
    lines_where: str,
    credits_where: str,
    group: str | None = None,
    on: str = "NULL",
) -> None:
    """First in, first out within each customer (and `group`): overlaps of running totals.

    `on` is the rule's own date for the pair (line `d`, credit `c`), NULL for none.
    """
    by = f", {group}" if group else ""
    same_group = f"AND d.{group} = c.{group}" if group else ""
    con.execute(
        f"""
        INSERT INTO reconcile_alloc ({_RULE_COLUMNS})
        WITH line AS (
            SELECT d.*, SUM(d.rest) OVER (
                PARTITION BY d.cust{by} ORDER BY d.line_no ROWS UNBOUNDED PRECEDING
            ) AS upto
            FROM reconcile_due d WHERE d.rest > 0 AND {lines_where}
        ), credit AS (
            SELECT c.*, SUM(c.rest) OVER (
                PARTITION BY c.cust{by} ORDER BY c.credit_no ROWS UNBOUNDED PRECEDING
            ) AS upto
            FROM reconcile_credit c WHERE c.rest > 0 AND {credits_where}
        )
        SELECT c.cust, c.credit_no, d.line_no, c.credit_id, d.invoice_id, d.seq,
               LEAST(d.upto, c.upto) - GREATEST(d.upto - d.rest, c.upto - c.rest),
               GREATEST(c.on_date, d.issued_on, COALESCE({on}, c.on_date)),
               '{rule.value}'
        FROM line d
        JOIN credit c ON d.cust = c.cust {same_group}
         AND d.upto - d.rest < c.upto AND c.upto - c.rest < d.upto
        """
    )
    _apply(con, rule)


#: Whether rule 1 has anything to do: a credit that applies to an invoice, or a link.
_SOURCE_LINK_CANDIDATES = """
    SELECT 1 FROM reconcile_credit WHERE applies_to IS NOT NULL
    UNION ALL
    SELECT 1 FROM credit_links l JOIN reconcile_customer k ON k.source = l.source
"""

#: Rule 1's pairs: each link of a credit (phase 0, by position, up to the link's amount, dated
#: by the link) with its invoice's lines, then the invoice it `applies_to` (phase 1).
_SOURCE_LINK_PAIRS = """
    SELECT c.cust, c.credit_no, 0 AS phase, l.position, d.line_no, d.inv_no, c.credit_id,
           d.invoice_id, d.seq, l.amount AS cap, c.rest AS credit_rest, d.rest AS line_rest,
           l.linked_on AS rule_on, c.on_date, d.issued_on
    FROM reconcile_credit c
    JOIN reconcile_customer k ON k.cust = c.cust
    JOIN credit_links l ON l.source = k.source AND l.credit_id = c.credit_id
    JOIN reconcile_due d ON d.cust = c.cust AND d.invoice_id = l.invoice_id
    UNION ALL
    SELECT c.cust, c.credit_no, 1, 0, d.line_no, d.inv_no, c.credit_id, d.invoice_id, d.seq,
           CAST(NULL AS BIGINT), c.rest, d.rest, CAST(NULL AS DATE), c.on_date, d.issued_on
    FROM reconcile_credit c
    JOIN reconcile_due d ON d.cust = c.cust AND d.invoice_id = c.applies_to
    WHERE c.applies_to IS NOT NULL
"""

#: Rule 3's pairs: an advance with the lines of the invoices of its order (phase 0, any
#: kind), then any credit with the lines of the invoices numbered as its reference (phase 1),
#: those `_may_guess` allows: no use of an advance, unbilled only for a credit note. Lines
#: in the reference's order: invoice by invoice (by their first line), then line by line.
_SAME_REFERENCE_PAIRS = f"""
    SELECT c.cust, c.credit_no, 0 AS phase, 0 AS position, d.line_no, d.inv_no, c.credit_id,
           d.invoice_id, d.seq, CAST(NULL AS BIGINT) AS cap, c.rest AS credit_rest,
           d.rest AS line_rest, CAST(NULL AS DATE) AS rule_on, c.on_date, d.issued_on
    FROM reconcile_credit c
    JOIN reconcile_due d ON d.cust = c.cust AND d.order_ref = c.order_ref
    WHERE c.guess AND c.kind = {_ADVANCE} AND c.rest > 0 AND d.rest > 0
    UNION ALL
    SELECT c.cust, c.credit_no, 1, 0, d.line_no, d.inv_no, c.credit_id, d.invoice_id, d.seq,
           CAST(NULL AS BIGINT), c.rest, d.rest, CAST(NULL AS DATE), c.on_date, d.issued_on
    FROM reconcile_credit c
    JOIN reconcile_due d ON d.cust = c.cust AND d.number = c.reference
    WHERE c.guess AND c.rest > 0 AND d.rest > 0 AND d.kind <> {_ADVANCE_USE}
      AND (d.kind <> {_INVOICE_UNBILLED} OR c.kind = {_CREDIT_NOTE})
"""


def _by_pairs(con: Any, pairs_sql: str, rule: AllocationRule) -> None:
    """Solve `take(s, l)` (module docstring) over the pairs `pairs_sql` gives, by rounds."""
    con.execute(
        f"""
        CREATE TEMP TABLE reconcile_pair AS
        SELECT ROW_NUMBER() OVER () AS pair_id, p.*, CAST(0 AS BIGINT) AS take
        FROM ({pairs_sql}) p
        """
    )
    # Each pair from the previous round's values of the pairs before it: in its step, in its
    # credit (steps in order), and on its line (credits, then steps, in order).
    next_round = """
        CREATE TEMP TABLE reconcile_next AS
        SELECT pair_id, GREATEST(0, LEAST(
            COALESCE(cap - (SUM(take) OVER (
                PARTITION BY credit_no, phase, position
                ORDER BY inv_no, line_no ROWS UNBOUNDED PRECEDING) - take), credit_rest),
            credit_rest - (SUM(take) OVER (
                PARTITION BY credit_no
                ORDER BY phase, position, inv_no, line_no ROWS UNBOUNDED PRECEDING) - take),
            line_rest - (SUM(take) OVER (
                PARTITION BY line_no
                ORDER BY credit_no, phase, position ROWS UNBOUNDED PRECEDING) - take)
        )) AS take
        FROM reconcile_pair
    """
    while True:
        con.execute(next_round)
        (changed,) = con.execute(
            "SELECT COUNT(*) FROM reconcile_pair p JOIN reconcile_next n "
            "ON p.pair_id = n.pair_id WHERE p.take <> n.take"
        ).fetchone()
        if changed:
            con.execute(
                "UPDATE reconcile_pair SET take = n.take FROM reconcile_next n "
                "WHERE reconcile_pair.pair_id = n.pair_id AND reconcile_pair.take <> n.take"
            )
        con.execute("DROP TABLE reconcile_next")
        if not changed:
            break
    con.execute(
        f"""
        INSERT INTO reconcile_alloc ({_RULE_COLUMNS})
        SELECT cust, credit_no, line_no, credit_id, invoice_id, seq, take,
               GREATEST(on_date, issued_on, COALESCE(rule_on, on_date)), '{rule.value}'
        FROM reconcile_pair WHERE take > 0
        """
    )
    con.execute("DROP TABLE reconcile_pair")
    _apply(con, rule)


def _exact_amount(con: Any) -> None:
    """Rule 4: the k-th credit left with A pairs with the k-th oldest invoice left with A."""
    con.execute(
        f"""
        INSERT INTO reconcile_alloc ({_RULE_COLUMNS})
        WITH invoice AS (
            SELECT cust, inv_no, SUM(rest) AS rest
            FROM reconcile_due
            WHERE guess AND inv_kind NOT IN {_NOT_GUESSED}
            GROUP BY cust, inv_no
            HAVING SUM(rest) > 0
        ), invoice_n AS (
            SELECT invoice.*, ROW_NUMBER() OVER (PARTITION BY cust, rest ORDER BY inv_no) AS n
            FROM invoice
        ), credit_n AS (
            SELECT cust, credit_no, credit_id, on_date, rest, ROW_NUMBER() OVER (
                PARTITION BY cust, rest ORDER BY credit_no
            ) AS n
            FROM reconcile_credit
            WHERE guess AND rest > 0 AND NOT is_on_order
        )
        SELECT c.cust, c.credit_no, d.line_no, c.credit_id, d.invoice_id, d.seq, d.rest,
               GREATEST(c.on_date, d.issued_on),
               '{AllocationRule.EXACT_AMOUNT.value}'
        FROM credit_n c
        JOIN invoice_n i ON i.cust = c.cust AND i.rest = c.rest AND i.n = c.n
        JOIN reconcile_due d ON d.inv_no = i.inv_no AND d.rest > 0
        """
    )
    _apply(con, AllocationRule.EXACT_AMOUNT)


def _write(con: Any) -> int:
    """Write the allocations back, the settlement dates that changed, the closed groups."""
    _write_allocations(con)
    _close_groups(con)
    # The changed dates first, into a table, then an update by equal keys alone: DuckDB
    # updates a million rows several times faster so than with the comparison in its join.
    con.execute(
        """
        CREATE TEMP TABLE reconcile_settled AS
        WITH last AS (
            SELECT line_no, MAX(allocated_on) AS day FROM reconcile_alloc GROUP BY line_no
        ), settled AS (
            SELECT d.cust, d.invoice_id, d.seq, d.settled_on,
                   CASE WHEN d.rest = 0 THEN a.day END AS day
            FROM reconcile_due d LEFT JOIN last a ON a.line_no = d.line_no
        )
        SELECT k.source, k.customer_id, s.invoice_id, s.seq, s.day
        FROM settled s JOIN reconcile_customer k ON k.cust = s.cust
        WHERE s.settled_on IS DISTINCT FROM s.day
        """
    )
    con.execute(
        """
        UPDATE due_lines SET settled_on = s.day FROM reconcile_settled s
        WHERE due_lines.source = s.source AND due_lines.customer_id = s.customer_id
          AND due_lines.invoice_id = s.invoice_id AND due_lines.seq = s.seq
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE reconcile_used AS
        WITH last AS (
            SELECT credit_no, MAX(allocated_on) AS day FROM reconcile_alloc GROUP BY credit_no
        ), used AS (
            SELECT c.cust, c.credit_id, c.used_on, CASE WHEN c.rest = 0 THEN a.day END AS day
            FROM reconcile_credit c LEFT JOIN last a ON a.credit_no = c.credit_no
        )
        SELECT k.source, k.customer_id, u.credit_id, u.day
        FROM used u JOIN reconcile_customer k ON k.cust = u.cust
        WHERE u.used_on IS DISTINCT FROM u.day
        """
    )
    con.execute(
        """
        UPDATE credits SET used_on = s.day FROM reconcile_used s
        WHERE credits.source = s.source AND credits.customer_id = s.customer_id
          AND credits.external_id = s.credit_id
        """
    )
    (count,) = con.execute("SELECT COUNT(*) FROM reconcile_customer").fetchone()
    return int(count)


def _write_allocations(con: Any) -> None:
    """Replace the dirty customers' allocations by the rules' (`reconcile_alloc`).

    Those of the frozen groups' credits stay (`_freeze`).
    """
    con.execute(
        """
        CREATE TEMP TABLE reconcile_kept AS
        SELECT k.source, k.customer_id, c.external_id AS credit_id
        FROM reconcile_frozen f
        JOIN reconcile_customer k ON k.cust = f.cust
        JOIN credits c ON c.source = k.source AND c.customer_id = k.customer_id
         AND NULLIF(c.match_ref, '') = f.match_ref
        """
    )
    con.execute(
        """
        DELETE FROM allocations WHERE EXISTS (
            SELECT 1 FROM reconcile_customer k
            WHERE k.source = allocations.source AND k.customer_id = allocations.customer_id
        ) AND NOT EXISTS (
            SELECT 1 FROM reconcile_kept p
            WHERE p.source = allocations.source AND p.customer_id = allocations.customer_id
              AND p.credit_id = allocations.credit_id
        )
        """
    )
    con.execute(
        f"""
        INSERT INTO allocations ({_ALLOCATION_COLUMNS})
        SELECT k.source, k.customer_id, a.credit_id, a.invoice_id, a.due_seq, a.amount,
               a.allocated_on, a.rule
        FROM reconcile_alloc a JOIN reconcile_customer k ON k.cust = a.cust
        """
    )


def _close_groups(con: Any) -> None:
    """Keep in `closed_groups` the dirty customers' groups `_freeze` may leave next time.

    A group is closed when rule 2 alone settled every due line and credit it holds, it holds
    the whole of each invoice it holds a line of, and no link reaches it. Example: invoice
    FA1 (one line, 100.00) and payment P1 (100.00), both lettered AB: AB is closed; with
    P1 of 90.00, or FA1 in two lines of which one is not lettered AB, it is not.
    """
    con.execute(
        """
        DELETE FROM closed_groups USING reconcile_customer k
        WHERE closed_groups.source = k.source AND closed_groups.customer_id = k.customer_id
          AND NOT EXISTS (
              SELECT 1 FROM reconcile_frozen f
              WHERE f.cust = k.cust AND f.match_ref = closed_groups.match_ref
          )
        """
    )
    group = AllocationRule.MATCH_GROUP.value
    con.execute(
        f"""
        INSERT INTO closed_groups (source, customer_id, match_ref)
        WITH line_given AS (
            SELECT line_no, SUM(amount) AS amount FROM reconcile_alloc
            WHERE rule = '{group}' GROUP BY line_no
        ), credit_given AS (
            SELECT credit_no, SUM(amount) AS amount FROM reconcile_alloc
            WHERE rule = '{group}' GROUP BY credit_no
        ), member AS (
            SELECT d.cust, d.match_ref, d.amount = COALESCE(a.amount, 0) AS settled
            FROM reconcile_due d LEFT JOIN line_given a ON a.line_no = d.line_no
            WHERE d.match_ref IS NOT NULL
            UNION ALL
            SELECT c.cust, c.match_ref, c.amount = COALESCE(a.amount, 0)
            FROM reconcile_credit c LEFT JOIN credit_given a ON a.credit_no = c.credit_no
            WHERE c.match_ref IS NOT NULL
        ), split_invoice AS (  -- lines in two groups, or in one and none
            SELECT cust, invoice_id FROM reconcile_due GROUP BY cust, invoice_id
            HAVING COUNT(*) > 1
               AND (MIN(match_ref) <> MAX(match_ref) OR COUNT(match_ref) < COUNT(*))
        ), split AS (
            SELECT DISTINCT d.cust, d.match_ref FROM reconcile_due d
            JOIN split_invoice s ON s.cust = d.cust AND s.invoice_id = d.invoice_id
            WHERE d.match_ref IS NOT NULL
        ), closed AS (
            SELECT cust, match_ref FROM member GROUP BY cust, match_ref HAVING bool_and(settled)
        )
        SELECT k.source, k.customer_id, g.match_ref
        FROM closed g JOIN reconcile_customer k ON k.cust = g.cust
        WHERE NOT EXISTS (SELECT 1 FROM split s WHERE s.cust = g.cust AND s.match_ref = g.match_ref)
          AND NOT EXISTS (
              SELECT 1 FROM reconcile_linked l WHERE l.cust = g.cust AND l.match_ref = g.match_ref
          )
        """
    )
