"""An unlucky operator's nights: a cut export, `status` during a sync, the store reached by a
link or damaged, a full disk, Ctrl-C, a closed pipe, a bug; and bounds on a broken FEC.

Each ends with a documented exit code and a message that says what to do, never a
traceback, and leaves the store as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from store_tables import dump

from encours import demo as demo_setup
from encours.cli import cli
from encours.connectors.file import FileTarget, inert
from encours.demo.fecgen import FecSpec
from encours.errors import AlreadyRunningError
from encours.sync.lock import RunLock

AS_OF = "2026-10-31"


def encours(config: Path, *args: str, expect: int | None = 0) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    if expect is not None:
        assert result.exit_code == expect, (result.output, result.exception)
    return result


def encours_process(
    config: Path, *args: str, **options: object
) -> subprocess.CompletedProcess[str]:
    """`encours ARGS` in a real process, as cron runs it."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "encours.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **options,  # type: ignore[arg-type]
    )


def total(config: Path) -> str:
    document = json.loads(encours(config, "status", "--json", "--as-of", AS_OF).stdout)
    return str(document["total"]["outstanding"])


def store_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table but `runs`, in a fixed order: what a refused run must leave unchanged."""
    return dump(path)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """The demo company, synced once; returns its config."""
    config, _ = demo_setup.prepare(tmp_path)
    encours(config, "sync", "--as-of", AS_OF)
    return config


# -- a full read that would delete most of a source ---------------------------------------------


@pytest.mark.parametrize("cut", ["header only", "cut at a line boundary"])
def test_a_destructive_full_read_is_refused_and_keeps_the_store(demo: Path, cut: str) -> None:
    books = demo.parent / "books.fec"
    lines = books.read_bytes().splitlines(keepends=True)
    keep = 1 if cut == "header only" else len(lines) // 3
    books.write_bytes(b"".join(lines[:keep]))
    before, pushed = store_rows(demo.parent / "encours.duckdb"), (demo.parent / "indicators.json")
    pushed_before = pushed.read_bytes()

    result = encours(demo, "sync", "--as-of", AS_OF, expect=65)

    assert "REFUSED" in result.stderr and "would delete" in result.stderr
    assert "--accept-deletions" in result.stderr
    assert store_rows(demo.parent / "encours.duckdb") == before
    assert pushed.read_bytes() == pushed_before  # nothing derived from it was pushed
    assert total(demo) == "413602.88"

    accepted = encours(demo, "sync", "--as-of", AS_OF, "--accept-deletions", expect=None)

    assert accepted.exit_code in (0, 3), accepted.output
    assert total(demo) != "413602.88"


def test_a_re_export_in_another_order_is_no_destruction(demo: Path) -> None:
    """Every ledger line's id names its line number: a re-export in another order changes
    every id, deletes every record and writes them again, and loses nothing."""
    books = demo.parent / "books.fec"
    header, *lines = books.read_bytes().splitlines(keepends=True)
    books.write_bytes(header + b"".join(reversed(lines)))

    result = encours(demo, "sync", "--as-of", AS_OF, expect=None)

    assert result.exit_code == 0, result.output
    assert "REFUSED" not in result.output and total(demo) == "413602.88"


def test_a_small_change_is_no_destruction(demo: Path) -> None:
    books = demo.parent / "books.fec"
    lines = books.read_bytes().splitlines(keepends=True)
    books.write_bytes(b"".join(lines[:-12]))  # the last few entries of the year went away

    result = encours(demo, "sync", "--as-of", AS_OF, expect=None)

    assert result.exit_code in (0, 3) and "REFUSED" not in result.output  # 3: an entry cut


# -- status during a sync -----------------------------------------------------------------------


def test_status_during_a_sync_shows_the_old_or_the_new_total(tmp_path: Path) -> None:
    config, _ = demo_setup.prepare(tmp_path, FecSpec(invoices=6000, customers=300))
    encours(config, "sync", "--as-of", AS_OF)
    old = total(config)
    books = tmp_path / "books.fec"
    lines = books.read_bytes().splitlines(keepends=True)
    books.write_bytes(b"".join(lines[: len(lines) * 9 // 10]))
    seen: list[str] = []
    sync = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "encours.cli", "--config", str(config), "sync", "--as-of", AS_OF],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while sync.poll() is None:
            seen.append(total(config))
    finally:
        sync.wait(timeout=120)
    new = total(config)

    assert new != old and seen  # sampled while the sync ran
    assert set(seen) <= {old, new}, set(seen) - {old, new}


# -- the lock and the store file ----------------------------------------------------------------


def test_the_same_store_through_a_link_is_the_same_lock(tmp_path: Path) -> None:
    real = tmp_path / "data" / "encours.duckdb"
    real.parent.mkdir()
    real.touch()
    link = tmp_path / "link"
    link.symlink_to(real.parent)

    with RunLock(real), pytest.raises(AlreadyRunningError):  # noqa: SIM117
        with RunLock(link / "encours.duckdb"):
            pass
    with RunLock(tmp_path / "data" / ".." / "data" / "encours.duckdb"):
        pass


def test_a_damaged_store_is_found_by_check_sync_and_status(demo: Path) -> None:
    store = demo.parent / "encours.duckdb"
    size = store.stat().st_size
    with store.open("r+b") as handle:  # garbage over pages in the middle of the file
        handle.seek(size // 2)
        handle.write(os.urandom(min(64 * 1024, size // 4)))

    for command in (["check"], ["sync", "--as-of", AS_OF], ["status", "--as-of", AS_OF]):
        result = encours_process(demo, *command)
        assert result.returncode == 70, (command, result.stdout, result.stderr)
        assert "damaged" in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert "backup" in result.stdout + result.stderr


# -- the exit codes of the table ----------------------------------------------------------------


def test_a_target_folder_gone_at_sync_time_exits_74(demo: Path, tmp_path: Path) -> None:
    config = demo.read_text(encoding="utf-8").replace(
        '[targets.file]\ntype = "file"\npath = "indicators.json"',
        '[targets.spill]\ntype = "file"\npath = "out/indicators.json"',
    )
    demo.write_text(config, encoding="utf-8")

    result = encours_process(demo, "sync", "--as-of", AS_OF)

    assert result.returncode == 74, result.stderr
    assert "cannot be written" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A 1 MiB tmpfs, where the tests run as root; skipped with the reason elsewhere."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(  # noqa: S603
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],  # noqa: S607
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder  # type: ignore[misc]
    subprocess.run(["umount", str(folder)], check=False)  # noqa: S603, S607


def test_a_full_disk_under_the_store_exits_74_and_keeps_nothing(
    tmp_path: Path, small_disk: Path
) -> None:
    config, _ = demo_setup.prepare(tmp_path, FecSpec(invoices=4000, customers=200))
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('"encours.duckdb"', f'"{small_disk / "s.sqlite"}"'))

    result = encours_process(config, "sync", "--as-of", AS_OF)

    assert result.returncode == 74, result.stderr
    assert "disk" in result.stderr and "Traceback" not in result.stderr


def test_a_full_disk_under_the_target_file_exits_74(demo: Path, small_disk: Path) -> None:
    (small_disk / "filler").write_bytes(b"\0" * (1024 * 1024 - 4096 * 2))
    with pytest.raises(OSError):  # noqa: PT011 - the disk is full indeed
        (small_disk / "more").write_bytes(b"\0" * 65536)
    text = demo.read_text(encoding="utf-8").replace(
        '[targets.file]\ntype = "file"\npath = "indicators.json"',
        f'[targets.spill]\ntype = "file"\npath = "{small_disk / "out.json"}"',
    )
    demo.write_text(text, encoding="utf-8")

    result = encours_process(demo, "sync", "--as-of", AS_OF)

    assert result.returncode == 74, result.stderr
    assert "cannot be written" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_exits_130_and_the_store_is_as_it_was(tmp_path: Path) -> None:
    config, _ = demo_setup.prepare(tmp_path, FecSpec(invoices=20000, customers=400))
    encours(config, "sync", "--as-of", AS_OF)
    before = total(config)
    books = tmp_path / "books.fec"
    lines = books.read_bytes().splitlines(keepends=True)
    books.write_bytes(b"".join(lines[: len(lines) * 9 // 10]))
    sync = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "encours.cli", "--config", str(config), "sync", "--as-of", AS_OF],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal or cron, even when the tests run in the background of a shell,
        # which starts them with Ctrl-C ignored (and a child inherits that).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    lock = tmp_path / "encours.duckdb.lock"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sync.poll() is None:  # until it holds the lock
        if lock.exists() and lock.read_text().strip() == str(sync.pid):
            break
        time.sleep(0.02)
    time.sleep(0.3)  # into the read: the whole run takes seconds
    assert sync.poll() is None, "the run ended before Ctrl-C: make the ledger larger"
    sync.send_signal(signal.SIGINT)
    out, err = sync.communicate(timeout=60)

    assert sync.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert total(config) == before


def test_a_reader_that_stops_reading_ends_the_output_quietly(tmp_path: Path) -> None:
    config, _ = demo_setup.prepare(tmp_path, FecSpec(invoices=4000, customers=1500))
    encours(config, "sync", "--as-of", AS_OF)
    command = (
        f"{sys.executable} -m encours.cli --config {config} status --json --as-of {AS_OF}"
        " | head -c 100 > /dev/null; echo ${PIPESTATUS[0]}"
    )
    result = subprocess.run(  # noqa: S603
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # noqa: S607
    )

    assert result.stdout.strip() == "0", result.stderr
    assert result.stderr == ""


def test_an_internal_error_shows_no_traceback_unless_debug(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("encours.sync.figures.compute_figures", broken)

    result = encours(demo, "status", expect=70)
    assert "internal error (ZeroDivisionError: a bug)" in result.stderr
    assert "--debug" in result.stderr and "Traceback" not in result.output

    debugged = CliRunner().invoke(cli, ["--config", str(demo), "--debug", "status"])
    assert isinstance(debugged.exception, ZeroDivisionError)


# -- output a terminal or a spreadsheet would obey ----------------------------------------------


def test_control_characters_from_the_books_are_shown_escaped(demo: Path) -> None:
    books = demo.parent / "books.fec"
    text = books.read_text(encoding="utf-8")
    first = text.splitlines()[1].split("\t")
    evil = "Evil\x1b]0;pwned\x07\x1b[31m Corp\tTab"
    books.write_text(text.replace(first[7], evil.replace("\t", " ")), encoding="utf-8")
    encours(demo, "sync", "--as-of", AS_OF, expect=None)

    for command in (["status", "--as-of", AS_OF], ["quarantine"], ["unmatched"], ["customers"]):
        output = encours(demo, *command, expect=None).output
        assert "\x1b" not in output and "\x07" not in output, command
    assert "Evil\\x1b]0;pwned\\x07\\x1b[31m Corp" in encours(demo, "status").stdout


def test_csv_cells_a_spreadsheet_would_evaluate_are_made_inert(tmp_path: Path) -> None:
    target = FileTarget(tmp_path / "out.csv", file_format="csv")

    target.push({"books:=1+1": {"name": '=HYPERLINK("http://x")', "dso": "-12.50", "o": "@SUM"}})

    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "'@SUM" in text and ",-12.50," in text
    assert inert("+33 1 23") == "'+33 1 23" and inert("-300.00") == "-300.00"
    assert target.read()["books:=1+1"]["dso"] == "-12.50"


# -- bounds on a broken FEC ---------------------------------------------------------------------


def limited(demo: Path, **limits: int) -> None:
    lines = "".join(f"{key} = {value}\n" for key, value in limits.items())
    demo.write_text(demo.read_text(encoding="utf-8") + f"\n[limits]\n{lines}", encoding="utf-8")


def test_a_line_too_long_exits_65_naming_it(demo: Path) -> None:
    books = demo.parent / "books.fec"
    rows = books.read_text(encoding="utf-8").split("\n")
    rows[5] = rows[5] + "x" * 300_000
    books.write_text("\n".join(rows), encoding="utf-8")

    result = encours(demo, "sync", "--as-of", AS_OF, expect=65)

    assert "line 6: longer than 65,536 bytes" in result.stderr


def test_a_field_too_long_exits_65_naming_line_and_column(demo: Path) -> None:
    books = demo.parent / "books.fec"
    rows = books.read_text(encoding="utf-8").split("\n")
    fields = rows[3].split("\t")
    fields[10] = "L" * 10_000
    rows[3] = "\t".join(fields)
    books.write_text("\n".join(rows), encoding="utf-8")

    result = encours(demo, "sync", "--as-of", AS_OF, expect=65)

    assert "line 4, column EcritureLib: 10,000 bytes" in result.stderr


def test_an_entry_too_large_exits_65_naming_where(demo: Path) -> None:
    limited(demo, fec_max_entry_lines=100)
    books = demo.parent / "books.fec"
    head, *rows = books.read_text(encoding="utf-8").rstrip("\n").split("\n")
    first = rows[0].split("\t")
    huge = []
    for n in range(150):  # 150 lines of one entry that never balances
        first[11], first[12] = "1,00", "0,00"
        first[4] = "411000" if n % 2 else "706000"
        huge.append("\t".join(first))
    books.write_text("\n".join([head, *huge, *rows]) + "\n", encoding="utf-8")

    result = encours(demo, "sync", "--as-of", AS_OF, "--accept-deletions", expect=65)

    assert "more than 100 lines wait" in result.stderr and "line 2" in result.stderr
