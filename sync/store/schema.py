"""The store's schema as numbered migrations; the table `schema_version` keeps the last applied.

The SQL keeps to the dialect DuckDB and PostgreSQL share (TEXT, BIGINT, INTEGER, BOOLEAN,
DATE, sequences, `INSERT ... ON CONFLICT`), so the same statements serve a firm's PostgreSQL.

Amounts are BIGINT minor units of the company currency (cents for EUR): exact, and summed
exactly by the engine. Dates are DATE. Record tables carry no primary key: the write path
(`writing.py`) merges a whole read into them by `(source, external_id)`, so a key is never
written twice, and an index on millions of rows would only slow the bulk writes down.

`dirty_customers` lists the customers whose records changed since their last reconciliation;
the write path fills it from the rows it changes or deletes, inside the same transaction, and
takes out of `closed_groups` the lettrage groups of those rows, before and after.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the first DuckDB schema (0.1's SQLite stores are copied into it: `legacy.py`).
    """
    CREATE SEQUENCE run_ids START 1;
    CREATE TABLE runs (
        id BIGINT PRIMARY KEY DEFAULT nextval('run_ids'),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        as_of DATE NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        exit_code INTEGER,
        summary TEXT
    );
    CREATE TABLE cursors (
        source TEXT NOT NULL,
        stream TEXT NOT NULL,
        value TEXT NOT NULL,
        run_id BIGINT NOT NULL,
        PRIMARY KEY (source, stream)
    );
    CREATE TABLE customers (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        name TEXT NOT NULL,
        siren TEXT,
        siret TEXT,
        vat_number TEXT,
        email_domain TEXT,
        payment_terms_days INTEGER,
        terms_end_of_month BOOLEAN NOT NULL,
        credit_limit BIGINT,
        updated_at TEXT,
        raw TEXT NOT NULL
    );
    CREATE TABLE invoices (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        number TEXT,
        kind TEXT NOT NULL,
        issued_on DATE NOT NULL,
        currency TEXT NOT NULL,
        total_in_currency TEXT NOT NULL,
        exchange_rate TEXT,
        total BIGINT NOT NULL,
        is_doubtful BOOLEAN NOT NULL,
        due_date_assumed BOOLEAN NOT NULL,
        match_ref TEXT,
        matched_on DATE,
        order_ref TEXT,
        updated_at TEXT,
        raw TEXT NOT NULL
    );
    CREATE TABLE due_lines (
        source TEXT NOT NULL,
        invoice_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        customer_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        is_doubtful BOOLEAN NOT NULL,
        issued_on DATE NOT NULL,
        due_on DATE NOT NULL,
        amount BIGINT NOT NULL,
        match_ref TEXT,
        settled_on DATE
    );
    CREATE TABLE credits (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        customer_id TEXT,
        on_date DATE NOT NULL,
        currency TEXT NOT NULL,
        amount_in_currency TEXT NOT NULL,
        exchange_rate TEXT,
        amount BIGINT NOT NULL,
        reference TEXT,
        match_ref TEXT,
        matched_on DATE,
        applies_to TEXT,
        is_on_order BOOLEAN NOT NULL,
        order_ref TEXT,
        used_on DATE,
        updated_at TEXT,
        raw TEXT NOT NULL
    );
    -- What a source says a credit pays: `amount` of invoice `invoice_id`, on `linked_on`.
    CREATE TABLE credit_links (
        source TEXT NOT NULL,
        credit_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        invoice_id TEXT NOT NULL,
        amount BIGINT NOT NULL,
        linked_on DATE
    );
    CREATE TABLE sales (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        customer_id TEXT,
        booked_on DATE NOT NULL,
        amount BIGINT NOT NULL,
        raw TEXT NOT NULL
    );
    CREATE TABLE drafts (
        source TEXT NOT NULL,
        external_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        number TEXT,
        issued_on DATE NOT NULL,
        currency TEXT NOT NULL,
        total_in_currency TEXT NOT NULL,
        exchange_rate TEXT,
        total BIGINT NOT NULL,
        updated_at TEXT,
        raw TEXT NOT NULL
    );
    CREATE TABLE source_balances (
        source TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        as_of DATE NOT NULL,
        currency TEXT NOT NULL,
        amount_in_currency TEXT NOT NULL,
        amount BIGINT NOT NULL,
        basis TEXT NOT NULL,
        raw TEXT NOT NULL
    );
    CREATE TABLE allocations (
        source TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        credit_id TEXT NOT NULL,
        invoice_id TEXT NOT NULL,
        due_seq INTEGER NOT NULL,
        amount BIGINT NOT NULL,
        allocated_on DATE NOT NULL,
        rule TEXT NOT NULL
    );
    CREATE TABLE dirty_customers (
        source TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        PRIMARY KEY (source, customer_id)
    );
    CREATE TABLE quarantine (
        source TEXT NOT NULL,
        stream TEXT NOT NULL,
        external_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw TEXT NOT NULL,
        first_run BIGINT NOT NULL,
        last_run BIGINT NOT NULL,
        PRIMARY KEY (source, stream, external_id)
    );
    CREATE TABLE snapshots (
        as_of DATE NOT NULL,
        customer_key TEXT NOT NULL,
        indicators TEXT NOT NULL,
        run_id BIGINT NOT NULL,
        PRIMARY KEY (as_of, customer_key)
    );
    CREATE TABLE pushed (
        target TEXT NOT NULL,
        customer_key TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        run_id BIGINT NOT NULL,
        PRIMARY KEY (target, customer_key, field)
    );
    CREATE TABLE matches (
        target TEXT NOT NULL,
        customer_key TEXT NOT NULL,
        record_key TEXT,
        status TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (target, customer_key)
    );
    """,
    # 2: dunning: the steps sent per due line, and the holds (pause, promise, dispute).
    """
    CREATE TABLE dunning_sent (
        source TEXT NOT NULL,
        invoice_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        customer_key TEXT NOT NULL,
        step TEXT NOT NULL,
        step_days INTEGER NOT NULL,
        sent_on DATE NOT NULL,
        channel TEXT NOT NULL,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        residual BIGINT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (source, invoice_id, seq, step)
    );
    CREATE SEQUENCE dunning_hold_ids START 1;
    CREATE TABLE dunning_holds (
        id BIGINT PRIMARY KEY DEFAULT nextval('dunning_hold_ids'),
        customer_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        invoice_id TEXT,
        since DATE NOT NULL,
        until_on DATE,
        reason TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );
    """,
    # 3: the index of the last read of each ledger file, so that its next read works out
    # only the entries whose lines changed (`connectors/fec_changes.py`). The fingerprint of
    # the settings it was made with is the cursor (source, 'ledger-index').
    """
    CREATE TABLE ledger_lines (
        source TEXT NOT NULL,
        number BIGINT NOT NULL,
        digest BIGINT NOT NULL
    );
    CREATE TABLE ledger_entries (
        source TEXT NOT NULL,
        first_line BIGINT NOT NULL,
        last_line BIGINT NOT NULL,
        booked_on DATE NOT NULL
    );
    CREATE TABLE ledger_customer_lines (
        source TEXT NOT NULL,
        number BIGINT NOT NULL,
        customer_key TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        amount BIGINT NOT NULL
    );
    """,
    # 4: a ledger file's lines, kept once, and the entry of each: the raw text of its
    # records, whose own `raw` is then NULL (`ledger.with_raw`). Records stored before keep
    # theirs.
    """
    CREATE TABLE ledger_text (
        source TEXT NOT NULL,
        number BIGINT NOT NULL,
        line TEXT NOT NULL,
        line_end TEXT NOT NULL
    );
    CREATE TABLE ledger_line_entries (
        source TEXT NOT NULL,
        number BIGINT NOT NULL,
        entry BIGINT NOT NULL
    );
    ALTER TABLE invoices ALTER COLUMN raw DROP NOT NULL;
    ALTER TABLE credits ALTER COLUMN raw DROP NOT NULL;
    ALTER TABLE sales ALTER COLUMN raw DROP NOT NULL;
    """,
    # 5: the lettrage groups a reconciliation may leave as they are: closed by their own
    # lettrage, in whole invoices, out of every link (`reconcile_sql.py`). The write path
    # drops a group when a record it holds, held or now holds changes.
    """
    CREATE TABLE closed_groups (
        source TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        match_ref TEXT NOT NULL
    );
    """,
)
