"""The nightly run: lock -> pull -> store -> reconcile -> compute -> snapshot -> push -> record.

Each source is pulled in its own transaction, with its cursor: a source that fails leaves
the store as it was for that source, and the others go on. Reconciliation redoes only the
customers whose records changed. Push sends only the values that changed since the last
successful push to that target. Run twice on the same data, the second run writes nothing;
when no source changed since the last run for the same date, it computes nothing either
and takes that run's figures (`sync/lastrun.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import duckdb

from encours.connectors.base import Pull, RecordTarget, Source, Target
from encours.errors import (
    ApiError,
    ConfigError,
    DataError,
    DestructiveReadError,
    EncoursError,
    TransientError,
)
from encours.model import Rejected, SourceRecord
from encours.sync import lastrun
from encours.sync.config import Settings, TargetSettings
from encours.sync.figures import Figures, compute_figures
from encours.sync.identity import load_mapping, match_customers
from encours.sync.lock import run_lock
from encours.sync.report import customer_json, indicators_json, push_values
from encours.sync.secrets import redact, scrubbed
from encours.sync.sources import (
    complete_matching_sources,
    field_names,
    make_source,
    make_target,
    own_record_sources,
)
from encours.sync.store import Store, store_error
from encours.sync.store.bulk import remove_leftovers

EXIT_OK = 0
EXIT_QUARANTINE = 3  # the run completed; records wait in quarantine or figures differ
EXIT_DATA = 65  # a source could not be read (the others were)
EXIT_REFUSED = 70  # a source refused a request that retrying will not fix
EXIT_IO = 74  # a local file or the store could not be written (full disk, folder gone)
EXIT_TEMPORARY = 75  # a source or target failed for a reason that may pass: run again later
EXIT_CONFIG = 78

#: The cursor row that keeps where each source was read up to.
POSITION = "position"
#: The cursor row (of no source) that keeps the reconciliation rules of the last run.
RECONCILE_RULES = "reconcile-rules"

#: How long a run waits for a reader (`status`, `customers`) to let go of the store.
STORE_WAIT_SECONDS = 60.0

#: Called with (stage, detail) as the run goes; the CLI shows it on a terminal.
Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class _Options:
    """What the command line asked of this run."""

    push: bool
    only_source: str | None
    full_refresh: bool
    accept_deletions: bool


@dataclass
class SourceOutcome:
    """What happened to one source in a run."""

    name: str
    status: str = "ok"  # ok | unchanged | failed | refused (it would delete too much)
    written: int = 0  # records read and taken in: new + updated + unchanged
    changed: int = 0  # rows of the store they changed
    new: int = 0
    updated: int = 0
    deleted: int = 0
    quarantined: int = 0  # records read and kept out, with their reason
    #: A ledger read again narrowly: lines changed since its last read, and lines read; only
    #: their entries were worked out again (`fec_changes`), the other records are unchanged.
    lines_changed: int | None = None
    lines: int | None = None
    error: str | None = None
    exit_code: int = EXIT_OK


@dataclass
class RunSummary:
    """What a run did, for the log line, the exit code and the `runs` table."""

    run_id: int
    as_of: date
    sources: list[SourceOutcome] = field(default_factory=list)
    reconciled_customers: int = 0
    snapshot_changes: int = 0
    pushes: dict[str, int] = field(default_factory=dict)
    planned: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    push_errors: dict[str, str] = field(default_factory=dict)
    push_exit_codes: dict[str, int] = field(default_factory=dict)
    quarantined_waiting: int = 0
    balances_checked: int = 0
    balances_differing: int = 0
    figures: Figures | None = None

    @property
    def exit_code(self) -> int:
        """The most serious outcome: config, data, refused, I/O, temporary, then quarantine."""
        codes = {outcome.exit_code for outcome in self.sources}
        codes |= set(self.push_exit_codes.values())
        for code in (EXIT_CONFIG, EXIT_DATA, EXIT_REFUSED, EXIT_IO, EXIT_TEMPORARY):
            if code in codes:
                return code
        to_look_at = self.quarantined_waiting or self.balances_differing
        return EXIT_QUARANTINE if to_look_at else EXIT_OK

    def as_dict(self) -> dict[str, object]:
        """The summary kept in the `runs` table."""
        return {
            "sources": [vars(outcome) for outcome in self.sources],
            "reconciled_customers": self.reconciled_customers,
            "snapshot_changes": self.snapshot_changes,
            "pushes": self.pushes,
            "push_errors": self.push_errors,
            "quarantined_waiting": self.quarantined_waiting,
            "balances_checked": self.balances_checked,
            "balances_differing": self.balances_differing,
        }


def run_sync(
    settings: Settings,
    *,
    as_of: date,
    now: datetime,
    dry_run: bool = False,
    push: bool = True,
    only_source: str | None = None,
    full_refresh: bool = False,
    accept_deletions: bool = False,
    progress: Progress | None = None,
) -> RunSummary:
    """The nightly job (see the module docstring).

    With `dry_run`, everything runs but nothing is kept: the store is rolled back and no
    target is written; `summary.planned` holds what would have been pushed. A full read that
    would delete more than `[limits] max_deletion_share` of a source is refused (that source
    is left as it was, and its customers are not pushed) unless `accept_deletions`.

    Raises:
        AlreadyRunningError: another run holds the lock.
        ConfigError: `only_source` names no configured source.
    """
    if only_source is not None and only_source not in settings.sources:
        raise ConfigError(
            f"no source named {only_source!r}; configured: {', '.join(settings.sources) or 'none'}"
        )
    say = progress or (lambda stage, detail: None)
    with run_lock(settings.store):
        remove_leftovers(settings.store.path)  # of a run killed while spooling
        before = lastrun.stat_of(settings.store.path)
        try:
            store = Store.open(
                settings.store.path, wait_seconds=STORE_WAIT_SECONDS, url=settings.store.url
            )
            try:
                store.verify()
                options = _Options(push, only_source, full_refresh, accept_deletions)
                if dry_run:
                    with store.dry_run():
                        return _run(store, settings, as_of, now, True, options, say, before)
                summary = _run(store, settings, as_of, now, False, options, say, before)
            finally:
                store.close()
        except duckdb.InterruptException:  # Ctrl-C during a statement
            raise KeyboardInterrupt from None
        except duckdb.Error as exc:  # a full disk, a damaged file: say which
            raise store_error(settings.store.path, exc) from None
        # `status` shows them without computing; on PostgreSQL, `status --all` and the firm's
        # table only (the store may have moved on since, on another machine).
        if summary.figures is not None:
            lastrun.save(settings.store.path, summary.run_id, settings, summary.figures)
        return summary


def _last_figures(settings: Settings, as_of: date, before: tuple[int, int]) -> Figures | None:
    """The last run's figures if they were the store's when it was `before`, as of `as_of`.

    `before` is the store's `lastrun.stat_of` taken ahead of this run's first write. None on
    PostgreSQL, which other processes may write.
    """
    if settings.store.url is not None:
        return None
    kept = lastrun.load(settings.store.path)
    if kept is None or not kept.applies(settings.store.path, settings, as_of, before):
        return None
    return kept.figures


def _run(
    store: Store,
    settings: Settings,
    as_of: date,
    now: datetime,
    dry_run: bool,
    options: _Options,
    say: Progress,
    before: tuple[int, int],
) -> RunSummary:
    with store.transaction():  # committed at once, but for a dry run
        run_id = store.start_run(as_of, now)
    summary = RunSummary(run_id=run_id, as_of=as_of)
    try:
        _steps(store, settings, summary, dry_run, options, say, before)
    except BaseException as exc:
        exit_code = exc.exit_code if isinstance(exc, EncoursError) else 70
        with suppress(duckdb.Error), store.transaction():  # a full disk cannot even say it
            store.finish_run(
                run_id, status="failed", exit_code=exit_code, summary=summary.as_dict()
            )
        raise
    with store.transaction():
        store.finish_run(
            run_id,
            status="dry-run" if dry_run else "done",
            exit_code=summary.exit_code,
            summary=summary.as_dict(),
        )
    return summary


def _steps(
    store: Store,
    settings: Settings,
    summary: RunSummary,
    dry_run: bool,
    options: _Options,
    say: Progress,
    before: tuple[int, int],
) -> None:
    """Pull, reconcile, compute, snapshot and push, filling `summary` as they go.

    Everything up to the snapshot is one transaction: a reader of the store (`status`) sees
    the previous run's state until this run's is complete, never a state in between. When
    every source is unchanged and nothing was reconciled, the last run's figures for this
    date and these settings stand, if the store was `before` (`lastrun.stat_of`) as that
    run left it: it holds what it held then.
    """
    run_id, as_of = summary.run_id, summary.as_of
    share = None if options.accept_deletions else settings.limits.max_deletion_share
    reads = [
        read_source(store, make_source(name, source_settings, settings), options.full_refresh, say)
        for name, source_settings in settings.sources.items()
        if options.only_source in (None, name)
    ]
    with store.transaction():
        for read in reads:
            summary.sources.append(store_source(store, read, run_id, say, share))
        summary.reconciled_customers = reconcile_dirty(store, settings, say)
        unchanged = all(outcome.status == "unchanged" for outcome in summary.sources)
        last, documents = None, {}
        if unchanged and not summary.reconciled_customers:
            last = _last_figures(settings, as_of, before)
        if last is not None:
            say("compute", "nothing changed since the last run: its indicators stand")
            figures = last  # and its snapshot of this date is stored
        else:
            say("compute", f"indicators as of {as_of.isoformat()}")
            figures = compute_figures(store, settings, as_of)
            documents = _snapshot(figures)
            summary.snapshot_changes = store.save_snapshot(as_of, documents, run_id)
        summary.figures = figures
        summary.quarantined_waiting = figures.quarantined
        summary.balances_checked = len(figures.checked)
        summary.balances_differing = len(figures.differing)
    refused = {o.name for o in summary.sources if o.status == "refused"}
    if refused:
        # Their customers' figures stand on last night's records: nothing new is sent.
        figures = replace(
            figures, customers=tuple(c for c in figures.customers if c.source not in refused)
        )
    if options.push and "next_dunning_step" in settings.push.indicators:
        from encours.sync.dunning import with_next_dunning_steps  # letters' templates: here

        figures = with_next_dunning_steps(store, settings, figures)
    if options.push:
        for name, target_settings in settings.targets.items():
            push_target(
                store,
                name,
                target_settings,
                figures,
                settings,
                summary,
                dry_run=dry_run,
                say=say,
                documents=documents,
            )


@dataclass
class SourceRead:
    """A source asked what changed: its pull, or why there is nothing to store."""

    source: Source
    outcome: SourceOutcome
    pull: Pull | None = None
    ledger: str | None = None  # the tables the engine read it into


def read_source(store: Store, source: Source, full_refresh: bool, say: Progress) -> SourceRead:
    """Ask a source what changed, and let the engine read it if it can (`Pull.stage`).

    Runs before the run's transaction: a file the engine cannot read fails this source
    alone (a failed statement would abort the whole transaction in DuckDB). What the engine
    read waits in temporary tables; an API source is read page by page when stored.
    """
    read = SourceRead(source, SourceOutcome(source.source))
    try:
        position = None if full_refresh else store.cursor(source.source, POSITION)
        pull = source.pull(position)
        if pull.unchanged:
            read.outcome.status = "unchanged"
            say("pull", f"{source.source}: unchanged since the last run")
            return read
        if pull.stage is not None:
            say("pull", f"{source.source}: reading")
            read.ledger = store.read_ledger(source.source, pull.stage, whole=full_refresh)
        read.pull = pull
    except (DataError, TransientError, ConfigError, ApiError) as exc:
        _failed(read.outcome, exc, say)
    return read


def store_source(
    store: Store,
    read: SourceRead,
    run_id: int,
    say: Progress,
    max_deletion_share: float | None = None,
) -> SourceOutcome:
    """Store what one source gave, inside the run's transaction.

    A source that fails leaves the store as it was for it. A full read that would delete
    more than `max_deletion_share` of the source's records is refused the same way (status
    `refused`, exit 65).
    """
    outcome, pull, source = read.outcome, read.pull, read.source
    if pull is None:
        return outcome
    try:
        if read.ledger is not None:
            counts = store.write_ledger(
                source.source,
                read.ledger,
                company_currency=source.currency,
                run_id=run_id,
                replace_all=pull.replace_all,
                max_deletion_share=max_deletion_share,
            )
            if counts.lines is not None:
                changed, lines = counts.lines
                outcome.lines_changed, outcome.lines = counts.lines
                say("pull", f"{source.source}: {changed:,} of {lines:,} lines changed")
            say("pull", f"{source.source}: {counts.written:,} records read")
        else:
            counts = store.write_records(
                source.source,
                scrubbed(_counted(pull.records, source.source, say)),
                company_currency=source.currency,
                run_id=run_id,
                replace_all=pull.replace_all,
                max_deletion_share=max_deletion_share,
            )
        store.set_cursor(source.source, POSITION, pull.position(), run_id)
        outcome.written, outcome.deleted = counts.written, counts.deleted
        outcome.changed = counts.changed
        outcome.new, outcome.updated = counts.new, counts.updated
        outcome.quarantined = counts.quarantined
    except (DataError, TransientError, ConfigError, ApiError) as exc:
        _failed(outcome, exc, say)
    return outcome


def _failed(outcome: SourceOutcome, exc: EncoursError, say: Progress) -> None:
    """This source is left as it was; the others go on.

    The store's own errors do not belong to one source: they stop the run.
    """
    outcome.status, outcome.error, outcome.exit_code = "failed", redact(str(exc)), exc.exit_code
    if isinstance(exc, DestructiveReadError):
        outcome.status = "refused"
    say("error", f"{outcome.name}: {outcome.error}")


def _counted(
    records: Iterator[SourceRecord | Rejected], name: str, say: Progress, every: int = 50_000
) -> Iterator[SourceRecord | Rejected]:
    count = 0
    for count, record in enumerate(records, start=1):  # noqa: B007 - count is read after
        if count % every == 0:
            say("pull", f"{name}: {count:,} records read")
        yield record
    say("pull", f"{name}: {count:,} records read")


def reconcile_dirty(store: Store, settings: Settings, say: Progress) -> int:
    """Reconcile every customer whose records changed; return how many.

    When the rules themselves changed since the last run (`[reconcile]`, or which sources
    guess nothing), every customer is reconciled again.
    """
    complete = complete_matching_sources(settings)
    rules = json.dumps([settings.reconcile.model_dump(), sorted(complete)], sort_keys=True)
    if store.cursor("", RECONCILE_RULES) != rules and store.mark_all_dirty():
        store.set_cursor("", RECONCILE_RULES, rules, 0)  # kept once there is something to match
    count = store.reconcile_dirty(
        oldest_first=settings.reconcile.oldest_first, complete_sources=complete
    )
    if count:
        say("reconcile", f"{count:,} customers reconciled")
    return count


def _snapshot(figures: Figures) -> dict[str, dict[str, object]]:
    snapshot: dict[str, dict[str, object]] = {"": indicators_json(figures.total)}
    for customer in figures.customers:
        snapshot[customer.key] = customer_json(customer)
    return snapshot


def push_target(
    store: Store,
    name: str,
    target_settings: TargetSettings,
    figures: Figures,
    settings: Settings,
    summary: RunSummary,
    *,
    dry_run: bool,
    say: Progress,
    documents: dict[str, dict[str, object]] | None = None,
) -> None:
    """Send a target the values that changed since its last successful push to each record.

    A record whose values did not change is not sent at all; `as_of` goes along with a
    record's changed values but never alone (it changes every day). A CRM target first
    matches customers to its records (`sync/identity.py`); a customer with no sure match is
    not pushed, and `encours customers` lists it. `documents` holds the customers'
    `customer_json` by key, when the snapshot made them.
    """
    try:
        target = make_target(name, target_settings, settings)
        destinations = _destinations(store, name, target, target_settings, figures, settings)
    except EncoursError as exc:
        summary.push_errors[name] = redact(str(exc))
        summary.push_exit_codes[name] = exc.exit_code
        say("error", f"{name}: {summary.push_errors[name]}")
        return
    fields = field_names(target_settings, settings)
    as_of_field = fields.get("as_of")
    pushed = store.last_pushed(name)
    changes: dict[str, dict[str, str]] = {}
    for customer in figures.customers:
        record = destinations.get(customer.key)
        if record is None:
            continue
        values = {
            fields[key]: value
            for key, value in push_values(
                customer, settings.push.indicators, (documents or {}).get(customer.key)
            ).items()
        }
        before = pushed.get(record, {})
        changed = {
            field: value
            for field, value in values.items()
            if before.get(field) != value and field != as_of_field
        }
        if changed:
            if as_of_field in values:
                changed[as_of_field] = values[as_of_field]
            changes[record] = changed
    summary.planned[name] = changes
    if dry_run:
        say("push", f"{name}: would write {len(changes)} record(s) (dry run)")
        return
    records = sorted(changes)
    size = target.batch_size or max(len(records), 1)
    written = 0
    for start in range(0, len(records), size):
        batch = {record: changes[record] for record in records[start : start + size]}
        try:
            target.push(batch)
        except EncoursError as exc:
            summary.push_errors[name] = redact(
                f"{exc} ({written} of {len(records)} record(s) written)"
            )
            summary.push_exit_codes[name] = exc.exit_code
            say("error", f"{name}: {summary.push_errors[name]}")
            break
        # Remembered batch by batch: a push cut short resumes with what was not written.
        with store.transaction():
            store.record_pushed(name, batch, summary.run_id)
        written += len(batch)
    summary.pushes[name] = written
    say("push", f"{name}: {written} record(s) written")


def _known_records(
    settings: TargetSettings, figures: Figures, everything: Settings
) -> tuple[dict[str, str], bool]:
    """Customer key -> record already known, and whether the target's own records cover all.

    Known: the lines of the target's `mapping` file, if it has one, and the customers of the
    sources that read the target's own records (a database read and written).
    """
    mapping_file = getattr(settings, "mapping", None)
    known = load_mapping(mapping_file) if mapping_file is not None else {}
    same = own_record_sources(settings, everything)
    own = {c.key: c.customer_id for c in figures.customers if c.source in same}
    return known | own, bool(same) and len(own) == len(figures.customers)


def _destinations(
    store: Store,
    name: str,
    target: Target,
    settings: TargetSettings,
    figures: Figures,
    everything: Settings,
) -> dict[str, str]:
    """Customer key -> the target's record key: itself for a file, the matched CRM record."""
    if not isinstance(target, RecordTarget):
        return {customer.key: customer.key for customer in figures.customers}
    mapping, all_own = _known_records(settings, figures, everything)
    if all_own:
        # Every customer was read from the target's own records: nothing to match, no records
        # to list (a party the source just read exists).
        return mapping
    matching = match_customers(store.customer_parties(), target.companies(), mapping)
    rows: list[tuple[str, str | None, str, str]] = [
        (key, record, "matched", rule) for key, (record, rule) in matching.matched.items()
    ]
    rows += [
        (key, None, "ambiguous", " ".join(records)) for key, records in matching.ambiguous.items()
    ]
    rows += [(key, None, "unmatched", "") for key in matching.unmatched]
    rows += [(key, None, "excluded", "mapping") for key in matching.excluded]
    with store.transaction():
        store.save_matches(name, sorted(rows))
    return {key: record for key, (record, _) in matching.matched.items()}
