"""The store's schema, as numbered migrations; `PRAGMA user_version` records the last applied.

Amounts are INTEGER minor units of the company currency (cents for EUR): exact, and summed
exactly by SQLite. Dates are ISO 8601 text, so they compare and sort as text.

`dirty_customers` lists the customers whose records were written since their last
reconciliation, so that reconciliation redoes only those, and a crash between storing and
reconciling is caught up by the next run. The store marks them as it writes; triggers cover
the customer a changed or deleted row belonged to, and trim the due lines of an invoice that
has fewer than before. (Inside a trigger, `INSERT OR IGNORE` would take the conflict policy
of the upsert that fired it; `ON CONFLICT DO NOTHING` keeps its own.)
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        as_of TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        exit_code INTEGER,
        summary TEXT
    );
    CREATE TABLE cursors (
        source TEXT NOT NULL,
        stream TEXT NOT NULL,
        value TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        PRIMARY KEY (source, stream)
    ) WITHOUT ROWID;
    CREATE TABLE customers (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        name TEXT NOT NULL,
        siren TEXT,
        siret TEXT,
        vat_number TEXT,
        email_domain TEXT,
        payment_terms_days INTEGER,
        terms_end_of_month INTEGER NOT NULL DEFAULT 0,
        credit_limit INTEGER,
        updated_at TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (source, external_id)
    ) WITHOUT ROWID;
    CREATE TABLE invoices (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        number TEXT,
        kind TEXT NOT NULL,
        issued_on TEXT NOT NULL,
        currency TEXT NOT NULL,
        total_in_currency TEXT NOT NULL,
        exchange_rate TEXT,
        total INTEGER NOT NULL,
        due_lines TEXT NOT NULL,
        is_doubtful INTEGER NOT NULL,
        due_date_assumed INTEGER NOT NULL,
        match_ref TEXT,
        matched_on TEXT,
        order_ref TEXT,
        updated_at TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (source, external_id)
    ) WITHOUT ROWID;
    CREATE TABLE due_lines (
        source TEXT NOT NULL,
        invoice_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        customer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        is_doubtful INTEGER NOT NULL,
        issued_on TEXT NOT NULL,
        due_on TEXT NOT NULL,
        amount INTEGER NOT NULL,
        settled_on TEXT,
        PRIMARY KEY (source, invoice_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX due_lines_by_customer ON due_lines (source, customer_id);
    CREATE TABLE credits (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        customer_id TEXT,
        on_date TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount_in_currency TEXT NOT NULL,
        exchange_rate TEXT,
        amount INTEGER NOT NULL,
        reference TEXT,
        match_ref TEXT,
        matched_on TEXT,
        applies_to TEXT,
        is_on_order INTEGER NOT NULL DEFAULT 0,
        order_ref TEXT,
        links TEXT NOT NULL DEFAULT '[]',
        used_on TEXT,
        updated_at TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (source, external_id)
    ) WITHOUT ROWID;
    -- Covers the sums per customer of `unapplied` and `period_flows`: a narrow scan.
    CREATE INDEX credits_by_customer ON credits (source, customer_id, on_date, kind, amount);
    CREATE TABLE sales (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        customer_id TEXT,
        booked_on TEXT NOT NULL,
        amount INTEGER NOT NULL,
        raw TEXT NOT NULL,
        PRIMARY KEY (source, external_id)
    ) WITHOUT ROWID;
    CREATE INDEX sales_by_day ON sales (booked_on, source, customer_id, amount);
    -- Clustered by customer: reconciliation replaces a customer's allocations as a block.
    CREATE TABLE allocations (
        source TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        credit_id TEXT NOT NULL,
        invoice_id TEXT NOT NULL,
        due_seq INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        allocated_on TEXT NOT NULL,
        rule TEXT NOT NULL,
        PRIMARY KEY (source, customer_id, position)
    ) WITHOUT ROWID;
    CREATE INDEX allocations_by_due_line ON allocations (source, invoice_id, due_seq);
    CREATE INDEX allocations_by_credit ON allocations (source, credit_id);
    CREATE TABLE dirty_customers (
        source TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        PRIMARY KEY (source, customer_id)
    ) WITHOUT ROWID;
    CREATE TABLE quarantine (
        source TEXT NOT NULL,
        stream TEXT NOT NULL,
        external_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw TEXT NOT NULL,
        first_run INTEGER NOT NULL,
        last_run INTEGER NOT NULL,
        PRIMARY KEY (source, stream, external_id)
    ) WITHOUT ROWID;
    CREATE TABLE snapshots (
        as_of TEXT NOT NULL,
        customer_key TEXT NOT NULL,
        indicators TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        PRIMARY KEY (as_of, customer_key)
    ) WITHOUT ROWID;
    CREATE TABLE pushed (
        target TEXT NOT NULL,
        customer_key TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        PRIMARY KEY (target, customer_key, field)
    ) WITHOUT ROWID;

    -- Writes mark their customers dirty themselves (store.py); these cover what a write
    -- cannot see: the customer a changed or deleted row belonged to, and due lines left over
    -- when an invoice has fewer of them than before.
    CREATE TRIGGER invoices_updated AFTER UPDATE ON invoices BEGIN
        DELETE FROM due_lines WHERE source = OLD.source AND invoice_id = OLD.external_id
            AND seq >= json_array_length(NEW.due_lines);
        INSERT INTO dirty_customers VALUES (OLD.source, OLD.customer_id) ON CONFLICT DO NOTHING;
    END;
    CREATE TRIGGER invoices_deleted AFTER DELETE ON invoices BEGIN
        DELETE FROM due_lines WHERE source = OLD.source AND invoice_id = OLD.external_id;
        INSERT INTO dirty_customers VALUES (OLD.source, OLD.customer_id) ON CONFLICT DO NOTHING;
    END;
    CREATE TRIGGER credits_updated AFTER UPDATE ON credits WHEN OLD.customer_id IS NOT NULL
    BEGIN
        INSERT INTO dirty_customers VALUES (OLD.source, OLD.customer_id) ON CONFLICT DO NOTHING;
    END;
    CREATE TRIGGER credits_deleted AFTER DELETE ON credits WHEN OLD.customer_id IS NOT NULL
    BEGIN
        INSERT INTO dirty_customers VALUES (OLD.source, OLD.customer_id) ON CONFLICT DO NOTHING;
    END;
    """,
    # 2: which CRM record each customer was matched to, per target, for `encours customers`.
    """
    CREATE TABLE matches (
        target TEXT NOT NULL,
        customer_key TEXT NOT NULL,
        record_key TEXT,
        status TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (target, customer_key)
    ) WITHOUT ROWID;
    """,
    # 3: drafts kept apart from receivables, each source's own balance of a customer, and a
    # due line's own match key (an instalment reconciled apart). Earlier versions stored
    # drafts as unbilled and read interleaved FEC entries wrongly: forgetting every position
    # makes the next run read every source whole again.
    """
    ALTER TABLE due_lines ADD COLUMN match_ref TEXT;
    CREATE TABLE drafts (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        number TEXT,
        issued_on TEXT NOT NULL,
        currency TEXT NOT NULL,
        total_in_currency TEXT NOT NULL,
        exchange_rate TEXT,
        total INTEGER NOT NULL,
        updated_at TEXT,
        raw TEXT NOT NULL,
        PRIMARY KEY (source, external_id)
    ) WITHOUT ROWID;
    CREATE TABLE source_balances (
        source TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        as_of TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount_in_currency TEXT NOT NULL,
        amount INTEGER NOT NULL,
        basis TEXT NOT NULL,
        raw TEXT NOT NULL,
        PRIMARY KEY (source, customer_id)
    ) WITHOUT ROWID;
    DELETE FROM cursors;
    """,
)
