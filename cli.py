"""The `encours` command: parse, call sync or metrics, print. Nothing here computes.

Exit codes (also in the README):

    0   everything done
    2   the command line is wrong
    3   done, but records wait in quarantine (`encours quarantine` lists them)
    65  a source could not be read (bad file); the other sources were
    66  `status`: no sync has finished on this store yet, so there are no figures
    70  internal error, or the store is damaged
    73  another `encours sync` is running on this store
    75  temporary failure (network, rate limit): run again later
    78  configuration error: fix the config file or a secret
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from encours.connectors.registry import DEFAULT_SOURCE, DEFAULT_TARGET
from encours.errors import ConfigError, EncoursError, StorageError
from encours.metrics.dso import DsoMethod, WalkOrder

if TYPE_CHECKING:  # the modules behind the commands are imported by the commands that use them
    from encours.sync.config import Settings
    from encours.sync.display import Display
    from encours.sync.explain import Explanation
    from encours.sync.export import Sheet
    from encours.sync.figures import CustomerFigures, Figures
    from encours.sync.run import RunSummary

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
CENT = Decimal("0.01")
#: C0 and C1 control characters but newline and tab, and DEL.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
EXIT_INTERRUPTED = 130  # 128 + SIGINT
MAX_DIGITS = 15  # amounts up to 10^15 (a quadrillion): more is a typo


class App:
    """What every command shares: the config path (loaded on first use) and the clock."""

    def __init__(self, config_path: Path, debug: bool = False) -> None:
        self.config_path = config_path
        self.debug = debug
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The validated configuration (ConfigError if it is missing or wrong)."""
        from encours.sync.config import load_settings

        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def display(self) -> Display:
        """How figures read for a person: `[company] language`, else the environment's."""
        from encours.sync.display import Display, language_from

        return Display.of(language_from(self.settings.company.language, os.environ))


pass_app = click.make_pass_decorator(App)


#: `--as-of DATE` of the commands that show figures (`as_of_text`, parsed by the command).
as_of_option = click.option(
    "--as-of",
    "as_of_text",
    metavar="DATE",
    help="As of this date (default: the [company] as_of rule, today unless set).",
)


#: `--firm FILE` of the commands that take `--all` (`cli_firm.py`).
firm_option = click.option(
    "--firm",
    "firm_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="firm.toml",
    envvar="ENCOURS_FIRM",
    show_default=True,
    help="With --all: the firm file listing the companies (or set ENCOURS_FIRM).",
)


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """`click.echo`, with every control character but newline and tab shown escaped.

    Names, references and reasons come from the sources: a customer named with an escape
    sequence must not drive the terminal that reads `status` (terminal injection).
    """
    click.echo(_CONTROLS.sub(_escaped, message), err=err, nl=nl)


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def _fail(exc: EncoursError) -> NoReturn:
    from encours.sync.secrets import redact

    echo(f"encours: {redact(str(exc))}", err=True)
    sys.exit(exc.exit_code)


def _handled(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into a message and an exit code of the README's table, in one place.

    The project's errors carry their code; a damaged store is 70, an I/O error (a full disk,
    a folder that went away) 74, a reader that stopped reading (`status | head`) ends quietly,
    and anything else is an internal error, 70, whose traceback only `--debug` shows.
    """

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EncoursError as exc:
            _fail(exc)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own: a wrong command line (2), an exit, Ctrl-C
        except BrokenPipeError:
            _stop_writing()
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            hint = ": the disk is full, free some space" if exc.errno == errno.ENOSPC else ""
            echo(f"encours: I/O error{where}: {exc.strerror or exc}{hint}", err=True)
            sys.exit(StorageError.exit_code)
        except Exception as exc:  # noqa: BLE001 - the last net: no traceback unless --debug
            engine = sys.modules.get("duckdb")  # imported only by the commands that use it
            if engine is not None and (
                isinstance(exc, engine.InterruptException)
                or (isinstance(exc, RuntimeError) and str(exc) == "Query interrupted")
            ):
                raise KeyboardInterrupt from None  # Ctrl-C that the engine turned into its own
            if engine is not None and isinstance(exc, engine.Error):
                from encours.sync.store import store_error

                _fail(store_error(_store_path(), exc))
            if _debugging():
                raise
            from encours.sync.secrets import redact

            echo(
                f"encours: internal error ({type(exc).__name__}: {redact(str(exc))[:300]}); "
                "run again with --debug for the traceback, and report it",
                err=True,
            )
            sys.exit(70)

    wrapper.__name__ = command.__name__
    wrapper.__doc__ = command.__doc__
    return wrapper


def _worst(codes: Iterable[int]) -> int:
    """The exit code of `check`: a damaged store (70) or I/O (74) first, else config (78)."""
    found = set(codes) - {0}
    for code in (70, StorageError.exit_code):
        if code in found:
            return code
    return 78 if found else 0


def _debugging() -> bool:
    context = click.get_current_context(silent=True)
    app = context.find_object(App) if context else None
    return bool(app and app.debug)


def _store_path() -> Path | None:
    context = click.get_current_context(silent=True)
    app = context.find_object(App) if context else None
    try:
        return app.settings.store.path if app else None
    except EncoursError:
        return None


def _stop_writing() -> NoReturn:
    """The reader of our output went away (`status | head`): stop, quietly, with success."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def _as_of(value: str | None, settings: Settings) -> date:
    """The as-of date given, else the `[company] as_of` rule applied to today.

    The only place that reads the clock for dates.
    """
    from encours.sync.config import default_as_of

    if value is None:
        return default_as_of(settings.company.as_of, datetime.now(UTC).astimezone().date())
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date like 2026-03-31", param_hint="--as-of"
        ) from None


@click.group(context_settings=CONTEXT)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="config.toml",
    envvar="ENCOURS_CONFIG",
    show_default=True,
    help="Configuration file (or set ENCOURS_CONFIG). Relative paths inside it are relative "
    "to its folder.",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="ENCOURS_DEBUG",
    help="Show the traceback of an internal error (or set ENCOURS_DEBUG=1).",
)
@click.version_option(package_name="encours")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, debug: bool) -> None:
    """Receivables outstanding (encours client), ageing and DSO, onto the customer's record.

    Reads your accounting tools and writes the figures back where the sales team looks.

    \b
    Examples:
    First time:   encours init
    Every night:  encours sync          (from cron; exit codes in the README)
    Any time:     encours status        (who owes what, worst first)
    Try it:       encours demo          (no account, no network)
    """
    ctx.obj = App(config_path, debug)


@cli.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default="encours-demo",
    show_default=True,
    help="Folder for the demo's FEC, config and store.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@_handled
def demo(folder: Path, as_json: bool) -> None:
    """Run the whole job on a generated FEC of a small French company, offline.

    Writes a realistic FEC (a few dozen customers, partial payments, advances, credit notes,
    overdue items) and a config into FOLDER, syncs it into a DuckDB store there as of each of
    the last months' ends (the history nightly runs would have left, for the DSO trend) and
    of its last day, prints the status in French and writes the HTML report
    FOLDER/rapport.html. Explore further with `encours --config FOLDER/config.toml status`.

    \b
    Example:
        encours demo --dir /tmp/encours-demo
    """
    from encours import demo as demo_setup
    from encours.sync.config import load_settings
    from encours.sync.display import Display
    from encours.sync.report import figures_json, json_text
    from encours.sync.status_text import status_lines

    french = Display.of("fr")
    _ = french._
    config_path, as_of = demo_setup.prepare(folder)
    settings = load_settings(config_path)
    written = _("Demo company written to {folder} (FEC, config.toml); as of {date}.")
    echo(written.format(folder=folder, date=french.date(as_of)), err=True)
    months = demo_setup.history(as_of)
    for month_end in months:
        _run_with_progress(settings, quiet=True, as_of=month_end, push=False)
    history = _("History for the DSO trend: synced as of {dates}, then:")
    echo(history.format(dates=", ".join(french.date(day) for day in months)), err=True)
    summary = _run_with_progress(settings, as_of=as_of)
    _print_summary(summary)
    figures = summary.figures
    assert figures is not None  # noqa: S101 - a finished run always computed them
    if as_json:
        echo(json_text(figures_json(figures)))
    else:
        for line in status_lines(figures, french, settings.company.name):
            echo(line)
    report_path = (folder / "rapport.html").resolve()
    _write_report(figures, settings, french, report_path)
    echo(_("\nReport: {path}").format(path=report_path), err=True)
    echo(
        _("Next: {command}").format(
            command=f"encours --config {config_path} status --customer C0001"
        ),
        err=True,
    )


@cli.command()
@click.option(
    "--as-of",
    "as_of_text",
    metavar="DATE",
    help="Compute as of this date (default: the [company] as_of rule, today unless set).",
)
@click.option(
    "--dry-run", is_flag=True, help="Do everything, keep nothing: print what would be pushed."
)
@click.option("--no-push", is_flag=True, help="Pull and compute, but write to no target.")
@click.option("--source", "only_source", metavar="NAME", help="Pull only this source.")
@click.option("--full-refresh", is_flag=True, help="Read every source whole, ignoring cursors.")
@click.option(
    "--accept-deletions",
    is_flag=True,
    help="Let a full read delete more than [limits] max_deletion_share of a source's records "
    "(refused otherwise, exit 65: an export cut short reads as everything deleted).",
)
@click.option(
    "--quiet", is_flag=True, help="No progress, only the summary (the default under cron)."
)
@click.option(
    "--all",
    "all_companies",
    is_flag=True,
    help="Every company of the firm file (--firm), each in its own process; see the README, "
    "For accounting firms.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="With --all: how many companies run at a time in this process.",
)
@firm_option
@pass_app
@_handled
def sync(
    app: App,
    as_of_text: str | None,
    dry_run: bool,
    no_push: bool,
    only_source: str | None,
    full_refresh: bool,
    accept_deletions: bool,
    quiet: bool,
    all_companies: bool,
    workers: int,
    firm_path: Path,
) -> None:
    """Pull every source, reconcile, compute the indicators and push what changed.

    The nightly job. Shows progress on a terminal; under cron it prints one summary line
    per source and target, fit for a log.

    \b
    Exit codes:
      0   done
      3   done, but records wait in quarantine (encours quarantine)
      65  a source could not be read (the others were)
      73  another sync is running on this store
      75  temporary failure: the next run catches up
      78  configuration error

    \b
    With --all, one exit code for the firm: the most serious of its companies'
    (78, 65, 70, 74, 75, then 3); a company taken by another worker, or already
    done today, counts as 0. A table shows each company's outcome.

    \b
    Example (crontab, every night at 02:30):
        30 2 * * *  ENCOURS_CONFIG=/etc/encours/config.toml encours sync
        30 2 * * *  encours sync --all --firm /etc/encours/firm.toml --workers 4
    """
    if all_companies:
        from encours.cli_firm import refuse_with_all, sync_all, sync_arguments

        refuse_with_all(dry_run=dry_run, source=only_source)
        arguments = sync_arguments(as_of_text, no_push, full_refresh, accept_deletions)
        sync_all(firm_path, workers, arguments, quiet)
    summary = _run_with_progress(
        app.settings,
        quiet,
        as_of=_as_of(as_of_text, app.settings),
        dry_run=dry_run,
        push=not no_push,
        only_source=only_source,
        full_refresh=full_refresh,
        accept_deletions=accept_deletions,
    )
    _print_summary(summary)
    if dry_run:
        echo(json.dumps(summary.planned, indent=1, sort_keys=True, ensure_ascii=False))
    sys.exit(summary.exit_code)


@cli.command()
@as_of_option
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    required=True,
    help="Write the report to FILE: one HTML page, charts included, nothing fetched.",
)
@click.option(
    "--all",
    "all_companies",
    is_flag=True,
    help="Every company of the firm file (--firm): a table of them, then each one's report.",
)
@firm_option
@pass_app
@_handled
def report(
    app: App, as_of_text: str | None, html_path: Path, all_companies: bool, firm_path: Path
) -> None:
    """The figures as one self-contained HTML page, to open, print or send.

    The total and its parts, the aged balance as bars, the DSO trend of the kept snapshots
    (one per sync), the top debtors with their credit use and risk grade, the money to
    review, the quarantine and balance-check counts; in the language `status` speaks. The
    page fetches nothing and runs no script: it opens offline and prints as shown.

    \b
    Exit codes: as `status` (66: no sync has finished on this store yet).

    \b
    Example:
        encours report --html encours.html
        encours report --html cabinet.html --all --firm firm.toml
    """
    if all_companies:
        from encours.cli_firm import report_all

        report_all(firm_path, as_of_text, html_path)
        return
    from encours.sync.status import current_figures

    settings = app.settings
    figures, note = current_figures(settings, _as_of(as_of_text, settings))
    if note:
        echo(f"encours: {note}", err=True)
    _write_report(figures, settings, app.display, html_path)
    echo(f"Wrote {html_path}", err=True)


@cli.command()
@as_of_option
@click.option(
    "--customer",
    "only",
    metavar="ID",
    help="This customer explained: its open items, what settled each and by which rule.",
)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON output (schema in the README).")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write the table to FILE as CSV (per customer; open items with --customer).",
)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write the table to FILE as an Excel workbook (numbers as numbers).",
)
@click.option(
    "--all",
    "all_companies",
    is_flag=True,
    help="One line per company of the firm file (--firm), from each one's last run.",
)
@firm_option
@pass_app
@_handled
def status(
    app: App,
    as_of_text: str | None,
    only: str | None,
    as_json: bool,
    csv_path: Path | None,
    xlsx_path: Path | None,
    all_companies: bool,
    firm_path: Path,
) -> None:
    """Each customer's outstanding, overdue, ageing and DSO, worst first, and the total.

    Computed from the store, as of any date: items issued after it are out, settlements
    dated after it do not count. For the last run's date, the figures that run computed are
    shown, also while another sync holds the store. Amounts and dates are written in the
    language of [company] language, else of LANG (fr or en); --json is the same in both.

    \b
    Exit codes:
      0   figures shown
      66  no sync has finished on this store yet: run `encours sync`
      73  a sync holds the store and its last figures are of another date
      78  configuration error, or no such customer

    \b
    Examples:
        encours status --as-of 2026-06-30 --json
        encours status --customer C0006 --xlsx C0006.xlsx
        encours status --all --firm firm.toml
    """
    if all_companies:
        from encours.cli_firm import refuse_with_all, status_all

        refuse_with_all(as_of=as_of_text, customer=only, csv=csv_path, xlsx=xlsx_path)
        status_all(firm_path, as_json)
        return
    from encours.sync.export import customers_sheet, items_sheet
    from encours.sync.status import current_figures

    settings = app.settings
    figures, note = current_figures(settings, _as_of(as_of_text, settings))
    if note:
        echo(f"encours: {note}", err=True)
    exports = {"csv": csv_path, "xlsx": xlsx_path}
    if only is None:
        _print_status(figures, app, as_json=as_json)
        _export(app, exports, lambda display: customers_sheet(figures, display))
        return
    chosen = [c for c in figures.customers if c.customer_id == only]
    if not chosen:
        raise ConfigError(f"no customer with id {only!r} in the store")
    explained = _print_customer(figures, chosen, app, as_json=as_json)
    _export(app, exports, lambda display: items_sheet(explained[0], display))


@cli.command()
@as_of_option
@pass_app
@_handled
def unmatched(app: App, as_of_text: str | None) -> None:
    """Money received and matched to no invoice, per customer, for a person to check.

    \b
    Example:
        encours unmatched --as-of 2026-06-30
    """
    from encours.sync.review_text import unmatched_lines
    from encours.sync.store import Store

    settings = app.settings
    with Store.reading(settings.store.path, url=settings.store.url) as store:
        rows = store.unmatched_items(_as_of(as_of_text, settings))
    for line in unmatched_lines(rows, app.display, settings.company.currency):
        echo(line)
    echo(f"{len(rows)} unmatched credit(s)", err=True)


@cli.command()
@click.option("--target", metavar="NAME", help="Only this target.")
@click.option("--unmatched", "only_open", is_flag=True, help="Only what a person must settle.")
@pass_app
@_handled
def customers(app: App, target: str | None, only_open: bool) -> None:
    """Which CRM record each customer was matched to at the last sync, and by which rule.

    Ambiguous and unmatched customers are not pushed: settle them in the target's mapping
    file (`customer,record` lines; `-` for never), read again on the next sync.

    \b
    Example:
        encours customers --unmatched
    """
    from encours.sync.report import printable
    from encours.sync.store import Store

    with Store.reading(app.settings.store.path, url=app.settings.store.url) as store:
        rows = store.matches(target)
    shown = [row for row in rows if not only_open or row[3] in ("ambiguous", "unmatched")]
    for name, customer, record, status, detail in shown:
        echo("\t".join(printable(f) for f in (name, customer, status, record or "-", detail)))
    echo(f"{len(shown)} customer(s)", err=True)


@cli.command()
@pass_app
@_handled
def quarantine(app: App) -> None:
    """Records that could not be taken in, with the reason; fix them at the source.

    \b
    Example:
        encours --config /etc/encours/config.toml quarantine
    """
    from encours.sync.report import printable
    from encours.sync.store import Store

    with Store.reading(app.settings.store.path, url=app.settings.store.url) as store:
        rows = store.quarantine()
    for source, stream, external_id, reason in rows:
        echo("\t".join(printable(field) for field in (source, stream, external_id, reason)))
    echo(f"{len(rows)} record(s) in quarantine", err=True)


@cli.command()
@click.option(
    "--figures",
    "figures_only",
    is_flag=True,
    help="Compare each customer's outstanding in the store with its source's own balance "
    "(exit 3 when one differs); no source or target is contacted.",
)
@pass_app
@_handled
def check(app: App, figures_only: bool) -> None:
    """Test every configured source and target, and say what is wrong in plain words.

    With --figures, check the figures instead: every customer's outstanding, as of the date
    its source stated a balance for it (the FEC ledger's balance of 411, 413, 416 and 4181
    less 4191; Tryton's party receivable), must equal that balance to the cent.

    \b
    Example:
        encours --config /etc/encours/config.toml check
        encours check --figures
    """
    from encours.sync.init import check_everything, insecure_sections
    from encours.sync.secrets import keyring_available, redact

    if figures_only:
        sys.exit(_check_figures(app))
    results = check_everything(app.settings)
    for name, error, _ in results:
        echo(f"ok      {name}" if error is None else f"FAILED  {name}: {redact(error)}")
    for name in insecure_sections(app.settings):
        echo(
            f"WARNING {name}: allow_insecure_http = true: its password or token may cross the "
            "network in clear. For a lab only."
        )
    usable, backend = keyring_available()
    if usable:
        echo(f"ok      keyring ({backend})")
    else:
        echo(f"note    no keyring ({backend}): secrets are read from the environment")
    sys.exit(_worst(result.exit_code for result in results))


@cli.group()
def secrets() -> None:
    """Store the secrets of sources and targets (tokens, passwords) in the system keyring.

    Where there is no keyring (a headless server), set them in the environment instead:
    ENCOURS_<NAME>_<KEY>, e.g. ENCOURS_PENNYLANE_TOKEN.

    \b
    Example:
        encours secrets set pennylane token
    """


@secrets.command("set")
@click.argument("name")
@click.argument("key")
@_handled
def secrets_set(name: str, key: str) -> None:
    """Ask for the secret KEY of source or target NAME (hidden) and store it in the keyring.

    \b
    Example:
        encours secrets set pennylane token
    """
    from encours.sync.secrets import set_secret

    value = click.prompt(f"{key} of {name}", hide_input=True)
    set_secret(name, key, value)
    echo(f"Stored in the keyring as {name}.{key}.")


class _InitCommand(click.Command):
    """`init`, whose options for the connectors' questions are added when first needed.

    They come from every registered connector (`connectors/registry.py`): declaring them
    when `encours` starts would import every connector's module for `encours --help`.
    """

    _with_questions = False

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """The command's own options, then every connector's questions' options."""
        if not self._with_questions:
            self._with_questions = True
            self.params[-1:-1] = _question_options()  # before --force
        return super().get_params(ctx)


@cli.command(cls=_InitCommand)
@click.option("--non-interactive", is_flag=True, help="Take every answer from the options below.")
@click.option("--company-currency", default="EUR", show_default=True, help="ISO 4217 code.")
@click.option(
    "--store",
    "store_path",
    default="encours.duckdb",
    show_default=True,
    help="The store (one DuckDB file), relative to the config file's folder.",
)
@click.option(
    "--source-type", default=DEFAULT_SOURCE, show_default=True, help="Where the invoices are."
)
@click.option("--source-name", help="Name of the source (default: the connector's own).")
@click.option(
    "--target-type", default=DEFAULT_TARGET, show_default=True, help="Where the indicators go."
)
@click.option("--target-name", help="Name of the target (default: its type).")
@click.option(
    "--edit",
    "section",
    metavar="SECTION",
    help="Ask again only the questions of one section (company, store, sources.NAME, "
    "targets.NAME), its settings as defaults, and rewrite only it.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@pass_app
@_handled
def init(
    app: App,
    non_interactive: bool,
    company_currency: str,
    store_path: str,
    source_type: str,
    source_name: str | None,
    target_type: str,
    target_name: str | None,
    section: str | None,
    force: bool,
    **given: Any,
) -> None:
    """Write a configuration file, asking for what is needed, then test it.

    Every registered connector can be chosen, and asks its own questions (the options after
    --target-name answer them). Tokens and passwords are asked hidden and stored in the
    keyring, never in the file; on a server without a keyring, set ENCOURS_<NAME>_TOKEN (or
    _PASSWORD) instead. A CRM target gets its custom fields created. A Tryton target needs
    the module party_encours on the server: the test says how to install it when it is missing.
    Each answer is checked as it is given (a FEC file that is there and is a FEC, an address
    with https://, terms encours can read) and asked again, saying why; with
    --non-interactive a wrong one exits 78. --edit asks one section's questions again, its
    settings as defaults, and leaves the rest of the file as it is, comments too.

    \b
    Examples:
    Interactive:      encours --config /etc/encours/config.toml init
    One section:      encours init --edit sources.books
    For scripts:      encours init --non-interactive --fec books.fec --target-file out.csv \\
                        --payment-terms "45 fin de mois" --customer-terms "C0001=60"
    Tryton to Tryton: encours secrets set tryton password   (or ENCOURS_TRYTON_PASSWORD)
                      encours init --non-interactive --source-type tryton \\
                        --target-type tryton --tryton-url https://erp.example.fr \\
                        --tryton-database prod
    """
    from encours.connectors.registry import source_spec, source_types, target_spec, target_types
    from encours.sync.init import InitAnswers, write_config

    asked = not non_interactive
    folder = app.config_path.resolve().parent
    if section is not None:
        _edit(app, section, asked, given, company_currency, store_path)
        return
    if app.config_path.exists() and not force:
        if non_interactive or not click.confirm(f"{app.config_path} exists. Overwrite it?"):
            raise ConfigError(f"{app.config_path} exists; pass --force to overwrite it")
    _known_type(source_type, source_types(), "--source-type")
    _known_type(target_type, target_types(), "--target-type")
    if asked:
        company_currency = click.prompt(
            "Company currency (ISO 4217)", default=company_currency, value_proc=_currency
        )
        store_path = click.prompt("Store (DuckDB file)", default=store_path)
        source_type = click.prompt(
            "Where are the invoices", type=click.Choice(source_types()), default=source_type
        )
    source = source_spec(source_type)
    source_name = source_name or source.default_name
    if asked:
        source_name = click.prompt("Name of the source", default=source_name)
    source_answers = _Section(source_type, source_name, source.questions, given, asked, folder)
    if asked:
        target_type = click.prompt(
            "Where do the indicators go", type=click.Choice(target_types()), default=target_type
        )
    target = target_spec(target_type)
    target_name = target_name or target_type
    if asked:
        target_name = click.prompt("Name of the target", default=target_name)
        if target.note:
            echo(target.note)
    like = source_answers if source_type == target_type else None
    target_answers = _Section(
        target_type, target_name, target.questions, given, asked, folder, like=like
    )
    answers = InitAnswers(
        currency=_answer("--company-currency", company_currency, _currency),
        store=store_path,
        source=source_answers.written("source"),
        target=target_answers.written("target"),
    )
    write_config(app.config_path, answers)
    echo(f"Wrote {app.config_path} (no secret in it).")
    _check_written(app)


def _edit(
    app: App, section: str, asked: bool, given: dict[str, Any], currency: str, store: str
) -> None:
    """`init --edit SECTION`: that section's questions again, its settings as the defaults.

    An option given on the command line wins over the setting (so `--non-interactive` with
    options edits from a script); a secret left empty stays as it is in the keyring.
    """
    from click.core import ParameterSource

    from encours.connectors.registry import source_spec, target_spec
    from encours.sync.init import current_section, edit_section

    current = current_section(app.config_path, section)
    ctx = click.get_current_context()

    def default(parameter: str, value: str, key: str, fallback: str) -> str:
        if ctx.get_parameter_source(parameter) == ParameterSource.COMMANDLINE:
            return value
        return str(current.get(key, fallback))

    values: dict[str, Any]
    if section == "company":
        proposed = default("company_currency", currency, "currency", "EUR")
        if asked:
            proposed = click.prompt(
                "Company currency (ISO 4217)", default=proposed, value_proc=_currency
            )
        values = {"currency": _answer("--company-currency", proposed, _currency)}
    elif section == "store":
        proposed = default("store_path", store, "path", "encours.duckdb")
        if asked:
            proposed = click.prompt("Store (DuckDB file)", default=proposed)
        values = {"path": proposed}
    else:
        table, _, name = section.partition(".")
        try:
            type_ = current["type"]
            spec = source_spec(type_) if table == "sources" else target_spec(type_)
        except KeyError as exc:
            raise ConfigError(f"[{section}] has no known type ({exc}): fix it by hand") from None
        folder = app.config_path.resolve().parent
        answers = _Section(type_, name, spec.questions, given, asked, folder, current)
        values = _changed(answers.written(table[:-1]).values, current, spec.settings)
    edit_section(app.config_path, section, values)
    echo(f"Rewrote [{section}] of {app.config_path}; the rest of it is as it was.")
    _check_written(app)


def _changed(values: dict[str, Any], current: dict[str, Any], model: Any) -> dict[str, Any]:
    """The answers that change what the section says (a missing setting says its default).

    So a section whose every answer is accepted as proposed is left as it was, byte for byte.
    """
    fields = model.model_fields

    def now(key: str) -> Any:
        if key in current or key not in fields:
            return current.get(key)
        return fields[key].get_default(call_default_factory=True)

    return {key: value for key, value in values.items() if now(key) != value}


def _check_written(app: App) -> None:
    """Test what the file written names, then create what the targets need."""
    from encours.sync.config import load_settings
    from encours.sync.init import check_everything, create_target_fields
    from encours.sync.secrets import redact

    settings = load_settings(app.config_path)
    results = check_everything(settings)
    for name, error, _ in results:
        echo(f"ok      {name}" if error is None else f"FAILED  {name}: {redact(error)}")
    if any(result.error for result in results):
        sys.exit(_worst(result.exit_code for result in results))
    for name, report in create_target_fields(settings):
        echo(f"ok      target {name}: {report}")
    echo(f"Next: encours --config {app.config_path} sync")


def _known_type(value: str, known: list[str], option: str) -> None:
    if value not in known:
        raise click.BadParameter(
            f"{value!r} is not one of {', '.join(known)}", param_hint=f"'{option}'"
        )


def _question_options() -> list[click.Option]:
    """One option per connector question that has one; sections of one type share it."""
    from encours.connectors.registry import source_spec, source_types, target_spec, target_types

    specs = [source_spec(t) for t in source_types()] + [target_spec(t) for t in target_types()]
    options: dict[str, click.Option] = {}
    for spec in specs:
        for question in spec.questions:
            if question.option is None or question.option in options:
                continue
            shown = "" if question.default is None else f" [default: {question.default}]"
            options[question.option] = click.Option(
                [question.option], metavar=question.metavar, help=question.help + shown
            )
    return list(options.values())


def _currency(answer: str) -> str:
    """An ISO 4217 code encours knows, in capitals: `eur` -> `EUR`."""
    from encours.model import CURRENCY_EXPONENTS

    code = answer.strip().upper()
    if code not in CURRENCY_EXPONENTS:
        raise click.BadParameter(f"{answer!r} is not an ISO 4217 currency code (e.g. EUR)")
    return code


def _answer(option: str, value: str, check: Callable[[str], Any]) -> Any:
    """An answer given as an option, checked: ConfigError (exit 78) saying why, if wrong."""
    try:
        return check(value)
    except click.BadParameter as exc:
        raise ConfigError(f"{option} {value}: {exc.message}") from None


def _option_key(option: str) -> str:
    """`--acme-url` -> `acme_url`, the name click gives the option's value."""
    return option.lstrip("-").replace("-", "_")


class _Section:
    """The answers of one section: asked in turn, or taken from the options.

    A value comes from its option, else (a target of the source's type) from the source's
    answers, else (`init --edit`) from the section's `current` settings, else from the
    question's default. Each answer is checked as it is given (`Question.convert`, and
    `check_file` against `folder`, the config file's): a wrong one is asked again saying why,
    or, not asked, is a ConfigError. A secret is asked hidden and kept in the keyring; a
    target of the source's type with the same answers is the same login: its secret is
    copied, not asked again. Editing, a secret left empty keeps the one stored.
    """

    def __init__(
        self,
        type_: str,
        name: str,
        questions: Iterable[Any],
        given: dict[str, Any],
        asked: bool,
        folder: Path,
        current: dict[str, Any] | None = None,
        like: _Section | None = None,
    ) -> None:
        self.type, self.name, self.like, self.folder = type_, name, like, folder
        self.questions = tuple(questions)
        self.values: dict[str, Any] = {}
        self.secrets: dict[str, str] = {}
        for question in self.questions:
            default = self._default(question, given, current)
            if question.secret:
                if asked:
                    self._ask_secret(question, keep=current is not None)
            elif asked:
                answer = click.prompt(
                    question.prompt.format_map(self.values),
                    default=default,
                    show_default=default != "",
                    value_proc=lambda value, q=question: self._checked(q, value),
                )
                self._keep(question, answer)
            elif default is not None:
                try:
                    answer = self._checked(question, default)
                except click.BadParameter as exc:
                    given_as = question.option or f"{question.key} of [{self.name}]"
                    raise ConfigError(f"{given_as} {default}: {exc.message}") from None
                self._keep(question, answer)

    def _default(self, question: Any, given: dict[str, Any], current: dict[str, Any] | None) -> Any:
        if question.option and given.get(_option_key(question.option)) is not None:
            return given[_option_key(question.option)]
        if self.like is not None and question.key in self.like.values:
            return self.like.values[question.key]
        if current is not None and question.current is not None:
            return question.current(current)
        if current is not None and question.key in current:
            return current[question.key]
        return question.default

    def _checked(self, question: Any, value: Any) -> Any:
        """The answer as the question converts it; click.BadParameter saying what is wrong."""
        text = str(value)
        try:
            answer = question.convert(text) if question.convert else value
            if question.check_file is not None:
                question.check_file(self.folder / Path(text).expanduser())
        except ValueError as exc:
            raise click.BadParameter(str(exc) or f"{text!r} will not do") from None
        return answer

    def _keep(self, question: Any, answer: Any) -> None:
        if isinstance(answer, dict):
            self.values.update(answer)  # one answer, written as several settings
        else:
            self.values[question.key] = answer

    def _ask_secret(self, question: Any, keep: bool) -> None:
        from encours.sync.secrets import set_secret

        like = self.like
        prompt = question.prompt.format_map(self.values)
        if like is not None and question.key in like.secrets and like.values == self.values:
            echo(f"Same login as the source: its {question.key} is not asked again.")
            value = like.secrets[question.key]
            if self.name != like.name:
                set_secret(self.name, question.key, value)
                echo(f"Stored in the keyring as {self.name}.{question.key} too.")
        elif keep:
            value = click.prompt(
                f"{prompt} (empty: keep the one stored)",
                hide_input=True,
                default="",
                show_default=False,
            )
            if not value:
                return
            set_secret(self.name, question.key, value)
            echo(f"Stored in the keyring as {self.name}.{question.key}.")
        else:
            value = _ask_secret(self.name, prompt, key=question.key)
        self.secrets[question.key] = value

    def written(self, role: str) -> Any:
        """What goes to the file; ConfigError naming the options when an answer is missing."""
        from encours.sync.init import SectionAnswers

        required = [q for q in self.questions if not q.secret and q.default is None]
        if any(q.key not in self.values for q in required):
            needed = " and ".join(f"{q.option} {q.metavar}" for q in required if q.option)
            raise ConfigError(f"a {self.type} {role} needs its settings: give {needed}")
        secrets = tuple(q.key for q in self.questions if q.secret)
        return SectionAnswers(self.type, self.name, dict(self.values), secrets)


@cli.group()
def calc() -> None:
    """The seeds' calculators: outstanding and DSO from figures you type, no config needed.

    \b
    Example:
        encours calc outstanding --invoice 25000 --advance 5000
    """


def _ask_secret(name: str, what: str, key: str = "token") -> str:
    """Ask a secret hidden and keep it in the keyring (or say which variable to set)."""
    from encours.sync.secrets import set_secret

    value = click.prompt(what, hide_input=True)
    set_secret(name, key, value)
    echo(f"Stored in the keyring as {name}.{key}.")
    return value


def _amounts(values: tuple[str, ...], option: str) -> list[Decimal]:
    parsed = []
    for value in values:
        try:
            number = Decimal(value.replace(" ", "").replace(",", "."))
        except InvalidOperation:
            raise click.BadParameter(
                f"{value!r} is not an amount like 1500.00", param_hint=option
            ) from None
        if not number.is_finite():
            raise click.BadParameter(f"{value!r} is not an amount", param_hint=option)
        if number.adjusted() > MAX_DIGITS:  # 1e999999999 would overflow the arithmetic
            raise click.BadParameter(f"{value!r} is too large for an amount", param_hint=option)
        parsed.append(number)
    return parsed


@calc.command("outstanding")
@click.option(
    "--invoice", "invoices", multiple=True, metavar="AMOUNT", help="An open invoice (repeat)."
)
@click.option(
    "--advance",
    "advances",
    multiple=True,
    metavar="AMOUNT",
    help="An advance or deposit received (repeat).",
)
@click.option(
    "--unbilled", multiple=True, metavar="AMOUNT", help="Revenue still to invoice (repeat)."
)
@click.option("--json", "as_json", is_flag=True, help='Print {"outstanding": "..."}.')
def calc_outstanding(
    invoices: tuple[str, ...], advances: tuple[str, ...], unbilled: tuple[str, ...], as_json: bool
) -> None:
    """Outstanding = unbilled + open invoices − advances.

    \b
    Example:
        encours calc outstanding --invoice 2000 --invoice 1500 --invoice 1500 --advance 1000
        -> 4000.00
    """
    from encours.metrics.outstanding import outstanding as outstanding_of

    if not (invoices or advances or unbilled):
        raise click.UsageError(
            "give the figures to add up: at least one --invoice, --advance or --unbilled "
            "(e.g. encours calc outstanding --invoice 2000 --advance 500)"
        )
    result = outstanding_of(
        _amounts(invoices, "--invoice"),
        _amounts(advances, "--advance"),
        _amounts(unbilled, "--unbilled"),
    ).quantize(CENT)
    echo(json.dumps({"outstanding": str(result)}) if as_json else str(result))


@calc.command("dso")
@click.option("--outstanding", "outstanding_text", required=True, metavar="AMOUNT")
@click.option(
    "--sales",
    "sales",
    multiple=True,
    required=True,
    metavar="YYYY-MM:AMOUNT",
    help="One month's sales including VAT (repeat, consecutive months).",
)
@click.option(
    "--method",
    type=click.Choice([m.value for m in DsoMethod]),
    default="count-back",
    show_default=True,
)
@click.option(
    "--order",
    type=click.Choice([o.value for o in WalkOrder]),
    default="recent-first",
    show_default=True,
    help="Count-back walk: recent-first is the standard; oldest-first reproduces the seed's table.",
)
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"dso": "...", "method": "...", "order": "..."}.'
)
def calc_dso_command(
    outstanding_text: str, sales: tuple[str, ...], method: str, order: str, as_json: bool
) -> None:
    """DSO from an outstanding and monthly sales (count-back or accounting method).

    \b
    Example (the seed's table, standard walk):
        encours calc dso --outstanding 150000 --sales 2021-10:50000 \\
            --sales 2021-11:80000 --sales 2021-12:90000
        -> 53.50 days (count-back, recent-first)
    """
    from encours.metrics.dso import calc_dso, round_days

    monthly: dict[str, Decimal] = {}
    for item in sales:
        month, separator, value = item.partition(":")
        if not separator:
            raise click.BadParameter(f"{item!r}: write YYYY-MM:AMOUNT", param_hint="--sales")
        if month.strip() in monthly:
            raise click.BadParameter(f"month {month} given twice", param_hint="--sales")
        monthly[month.strip()] = _amounts((value,), "--sales")[0]
    try:
        result = round_days(
            calc_dso(
                _amounts((outstanding_text,), "--outstanding")[0],
                monthly,
                method=DsoMethod(method),
                order=WalkOrder(order),
            )
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sales") from None
    text = None if result is None else str(result)
    # The walk's order is a setting of count-back only: the accounting method has none.
    walk = order if method == DsoMethod.COUNT_BACK.value else None
    if as_json:
        echo(json.dumps({"dso": text, "method": method, "order": walk}))
        return
    how = f"{method}, {walk}" if walk else method
    if text is None:
        echo(f"— ({how}): no sales in the months given, so no DSO to compute")
    else:
        echo(f"{text} days ({how})")


class _TerminalProgress:
    """Progress on a terminal (stderr): one line per stage, rewritten in place."""

    def __init__(self) -> None:
        self.stage = ""

    def __call__(self, stage: str, detail: str) -> None:
        from encours.sync.report import printable

        start = "\r\033[K" if stage == self.stage else ("\n" if self.stage else "")
        click.echo(f"{start}  {stage:<9} {printable(detail)}", err=True, nl=False)
        self.stage = stage

    def finish(self) -> None:
        """End the last progress line, before the summary."""
        if self.stage:
            echo("", err=True)
            self.stage = ""


def _progress() -> _TerminalProgress | None:
    """Progress on a terminal; nothing under cron, where only the summary goes to the log."""
    return _TerminalProgress() if sys.stderr.isatty() else None


def _run_with_progress(settings: Settings, quiet: bool = False, **options: Any) -> RunSummary:
    from encours.sync.run import run_sync

    progress = None if quiet else _progress()
    try:
        return run_sync(settings, now=datetime.now(UTC), progress=progress, **options)
    finally:
        if progress is not None:
            progress.finish()


def _print_summary(summary: RunSummary) -> None:
    """One line per source and target: fit for a log.

    A source's records read add up: new + changed + unchanged + quarantined. Deleted ones
    are those a full read no longer finds; they are not among the records read. A ledger
    read again narrowly says first how many of its lines changed.
    """
    for outcome in summary.sources:
        if outcome.status in ("failed", "refused"):
            echo(f"source {outcome.name}: {outcome.status.upper()}: {outcome.error}", err=True)
        else:
            unchanged = outcome.written - outcome.new - outcome.updated
            narrowly = (
                f"{outcome.lines_changed} of {outcome.lines} line(s) changed since the last read, "
                if outcome.lines is not None
                else ""
            )
            echo(
                f"source {outcome.name}: {outcome.status}, {narrowly}"
                f"{outcome.written + outcome.quarantined} record(s) read: {outcome.new} new, "
                f"{outcome.updated} changed, {unchanged} unchanged, "
                f"{outcome.quarantined} quarantined; {outcome.deleted} deleted (no longer "
                "in the source)",
                err=True,
            )
    echo(f"reconciled {summary.reconciled_customers} customer(s)", err=True)
    for name, count in summary.pushes.items():
        echo(f"target {name}: {count} customer(s) updated", err=True)
    for name, error in summary.push_errors.items():
        echo(f"target {name}: FAILED: {error}", err=True)
    if summary.quarantined_waiting:
        echo(
            f"{summary.quarantined_waiting} record(s) wait in quarantine: run `encours quarantine`",
            err=True,
        )
    if summary.balances_checked:
        echo(
            f"balance check: {summary.balances_differing} of {summary.balances_checked} "
            "customer(s) differ from their source's own balance"
            + (": run `encours check --figures`" if summary.balances_differing else ""),
            err=True,
        )
    echo(f"run {summary.run_id} as of {summary.as_of}: exit {summary.exit_code}", err=True)


def _print_status(figures: Figures, app: App, *, as_json: bool) -> None:
    """The figures as JSON (locale-free), or as the table of `sync/status_text.py`."""
    from encours.sync.report import figures_json, json_text
    from encours.sync.status_text import status_lines

    if as_json:
        echo(json_text(figures_json(figures)))
        return
    for line in status_lines(figures, app.display, app.settings.company.name):
        echo(line)


def _write_report(figures: Figures, settings: Settings, display: Display, path: Path) -> None:
    """The HTML report of these figures (`sync/html_report.py`), written to `path`."""
    from encours.sync import html_report
    from encours.sync.store import Store

    with Store.reading(settings.store.path, url=settings.store.url) as store:
        data = html_report.read_report(store, figures, settings.company.name)
    path.write_text(html_report.render(data, display), encoding="utf-8")


def _export(app: App, paths: dict[str, Path | None], sheet: Callable[[Display], Sheet]) -> None:
    """Write the sheet to each file asked for (`sync/export.py`), saying where."""
    from encours.sync.export import export

    for kind, path in paths.items():
        if path is not None:
            export(path, sheet(app.display), app.display, kind=kind)
            echo(f"Wrote {path}", err=True)


def _print_customer(
    figures: Figures, chosen: list[CustomerFigures], app: App, *, as_json: bool
) -> list[Explanation]:
    """`status --customer`: each customer of that id, explained (`sync/explain.py`).

    The JSON keeps the shape of `status --json` (the company's `total` stays, labelled
    so), each customer with its `open_items`, `unapplied_items` and `draft_items`.
    """
    from encours.sync.explain import explain
    from encours.sync.report import explanation_json, figures_json, json_text
    from encours.sync.review_text import customer_lines
    from encours.sync.store import Store

    settings = app.settings
    with Store.reading(settings.store.path, url=settings.store.url) as store:
        explained = [
            explain(store, customer, figures.as_of, settings.metrics.aging_edges)
            for customer in chosen
        ]
    if as_json:
        document = figures_json(figures)
        document["customers"] = [explanation_json(e) for e in explained]
        echo(json_text(document))
        return explained
    for number, explanation in enumerate(explained):
        if number:
            echo()
        for line in customer_lines(explanation, app.display):
            echo(line)
    return explained


def _check_figures(app: App) -> int:
    """Print the balance check of the store as it is; 3 when a customer differs."""
    from encours.sync.figures import compute_figures
    from encours.sync.status_text import balance_check_lines
    from encours.sync.store import Store

    settings = app.settings
    with Store.reading(settings.store.path, url=settings.store.url) as store:
        figures = compute_figures(store, settings, _as_of(None, settings))
    if not figures.checked:
        echo("No source states a balance of its customers yet: run `encours sync` first")
        return 0
    for line in balance_check_lines(figures, app.display):
        echo(line)
    return 3 if figures.differing else 0


def main() -> None:
    """Console-script entry point: Ctrl-C exits 130, having kept nothing of a run under way."""
    try:
        code = cli.main(prog_name="encours", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, EOFError):
            echo("encours: no answer to the question (end of input); see --help", err=True)
            sys.exit(2)
        echo("encours: interrupted; a sync under way keeps nothing of this run", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stop_writing()
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    # `python -m encours.cli`: run the package's module, where every command is registered.
    from encours.cli import main as package_main

    package_main()
else:
    from encours.cli_dunning import dunning  # it needs this module's helpers, defined above

    cli.add_command(dunning)
