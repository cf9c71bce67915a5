"""`encours dunning` on a synced store: the L441-10 flag, holds, and sending through a real
local SMTP server (aiosmtpd) night after night: recipients, subjects, bodies, no step twice."""

from __future__ import annotations

import json
import socket
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from fec_files import Line, write_fec

from encours.cli import cli

RATES = """
[penalties.rates]
"2025-H2" = { ecb = "2.15", legal = "2.76" }
"2026-H1" = { ecb = "2.15", legal = "2.62" }
"""


def books(folder: Path) -> Path:
    """C1: FA1 1 200.00 issued 8 Feb 2026 (due 10 March at 30 days), paid 1 April;
    FA2 600.00 issued 13 Feb (due 15 March). C2: FA3 240.00 issued 10 Jan at 90 days
    (due 10 April, past the L441-10 limit of 17 March)."""

    def sale(entry: str, day: str, aux: str, piece: str, total: str, let: str = "") -> list[Line]:
        ht, tva = {
            "1200,00": ("1000,00", "200,00"),
            "600,00": ("500,00", "100,00"),
            "240,00": ("200,00", "40,00"),
        }[total]
        return [
            Line(
                "VT",
                entry,
                day,
                "411000",
                debit=total,
                aux=aux,
                aux_label=f"Client {aux}",
                piece=piece,
                let=let,
                date_let="20260401" if let else "",
            ),
            Line("VT", entry, day, "707000", credit=ht, piece=piece),
            Line("VT", entry, day, "445710", credit=tva, piece=piece),
        ]

    lines = [
        *sale("1", "20260208", "C1", "FA1", "1200,00", let="A"),
        *sale("2", "20260213", "C1", "FA2", "600,00"),
        *sale("3", "20260110", "C2", "FA3", "240,00"),
        Line("BQ", "4", "20260401", "512000", debit="1200,00", piece="VIR1"),
        Line(
            "BQ",
            "4",
            "20260401",
            "411000",
            credit="1200,00",
            aux="C1",
            aux_label="Client C1",
            piece="VIR1",
            let="A",
            date_let="20260401",
        ),
    ]
    return write_fec(folder / "books.fec", lines, separator="|")


def configure(folder: Path, extra: str = "") -> Path:
    books(folder)
    config = folder / "config.toml"
    config.write_text(
        f"""[company]
name = "Démo SARL"
currency = "EUR"

[store]
path = "encours.duckdb"

[sources.books]
type = "fec"
path = "books.fec"

[sources.books.payment_terms]
C2 = 90

[targets.file]
type = "file"
path = "indicators.json"
{RATES}
[dunning.contacts]
"books:C1" = "compta@c1.example, dg@c1.example"
{extra}""",
        encoding="utf-8",
    )
    run(config, "sync")
    return config


def run(config: Path, *args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == expect, (result.output, result.exception)
    return result.output


def dunning_json(config: Path, *args: str) -> dict:
    return json.loads(run(config, "dunning", *args, "--json"))


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], object]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def smtp_section(port: int) -> str:
    return f"""
[dunning.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from_address = "relances@demo.example"
"""


def test_terms_over_the_legal_cap_are_flagged(tmp_path: Path) -> None:
    config = configure(tmp_path)
    document = dunning_json(config, "--date", "2026-03-01")
    assert document["terms_breaches"] == [
        {
            "customer": "books:C2",
            "invoice": document["terms_breaches"][0]["invoice"],
            "number": "FA3",
            "issued_on": "2026-01-10",
            "due_on": "2026-04-10",
            "limit": "2026-03-17",
            "days_over": 24,
        }
    ]
    text = run(config, "dunning", "--date", "2026-03-01")
    assert "L441-10" in text and "FA3" in text and "24 days over" in text


def test_a_reminder_lists_penalties_and_the_indemnity(tmp_path: Path) -> None:
    config = configure(tmp_path)
    document = dunning_json(config, "--date", "2026-03-25")
    (c1,) = [r for r in document["reminders"] if r["customer"] == "books:C1"]
    assert c1["step"] == "firm" and c1["to"] == ["compta@c1.example", "dg@c1.example"]
    lines = [(line["number"], line["days_late"], line["step"], line["new"]) for line in c1["lines"]]
    assert lines == [
        ("FA1", 15, "firm", True),
        ("FA2", 10, "friendly", True),
    ]
    # 1 200.00 × 12.15 % × 15 / 365 = 5.99; 600.00 × 12.15 % × 10 / 365 = 2.00
    assert [line["penalty"] for line in c1["lines"]] == ["5.99", "2.00"]
    assert (c1["penalties"], c1["indemnity"], c1["total"]) == ("7.99", "80.00", "1887.99")
    assert document["sent"] is False


def test_nothing_is_sent_without_the_opt_in(tmp_path: Path, smtp_server) -> None:
    inbox, port = smtp_server
    config = configure(tmp_path, smtp_section(port))
    run(config, "dunning", "--date", "2026-03-25")  # the default is a dry run
    assert inbox.messages == []
    # --send without [dunning.smtp]: nothing sent, nothing recorded, said so.
    bare = tmp_path / "bare"
    bare.mkdir()
    config = configure(bare)
    document = dunning_json(config, "--date", "2026-03-25", "--send")
    (c1,) = [r for r in document["reminders"] if r["customer"] == "books:C1"]
    assert c1["outcome"] == "skipped" and "[dunning.smtp]" in c1["detail"]
    assert dunning_json(config, "--date", "2026-03-25")["reminders"][0]["lines"][0]["new"]
    assert inbox.messages == []


def test_sixty_nights_through_a_real_smtp_server(tmp_path: Path, smtp_server) -> None:
    """The calendar of metrics/dunning.py's docstring, sent: each step once per due line."""
    inbox, port = smtp_server
    config = configure(tmp_path, smtp_section(port))
    start = date(2026, 3, 1)
    for offset in range(60):
        run(config, "dunning", "--date", (start + timedelta(days=offset)).isoformat(), "--send")
    subjects = [(m["Subject"], m["Date"] is not None) for _, _, m in inbox.messages]
    assert [subject for subject, _ in subjects] == [
        "Démo SARL – échéance à venir",  # 3 March: courtesy FA1
        "Démo SARL – échéances à venir",  # 8 March: courtesy FA2 (FA1 listed again)
        "Démo SARL – rappel de paiement",  # 13 March: friendly FA1
        "Démo SARL – rappel de paiement",  # 18 March: friendly FA2
        "Démo SARL – deuxième relance, factures échues impayées",  # 25 March: firm FA1
        "Démo SARL – deuxième relance, factures échues impayées",  # 30 March: firm FA2
        "Démo SARL – dernière relance avant mise en demeure",  # 14 April: pre_formal FA2
    ]
    for sender, recipients, message in inbox.messages:
        assert sender == "relances@demo.example"
        assert recipients == ["compta@c1.example", "dg@c1.example"]
        assert message["To"] == "compta@c1.example, dg@c1.example"
    firm = inbox.messages[4][2].get_content()
    assert "Facture FA1 du 08/02/2026, échéance du 10/03/2026 : 1\u202f200,00\xa0€" in firm
    assert "15 jours de retard, pénalités 5,99\xa0€" in firm
    assert "Indemnité forfaitaire pour frais de recouvrement : 80,00\xa0€" in firm
    assert "FA3" not in firm  # another customer's invoice
    pre_formal = inbox.messages[6][2].get_content()
    assert "FA1" not in pre_formal  # paid on 1 April: never reminded again
    # 29 April: the formal notice is a letter, written for the post and recorded.
    (letter,) = (tmp_path / "letters").glob("2026-04-29-books_C1-formal_notice.txt")
    assert "Mise en demeure" in letter.read_text(encoding="utf-8")
    # Another run on the same day sends nothing again.
    run(config, "dunning", "--date", "2026-04-29", "--send")
    assert len(inbox.messages) == 7


def test_a_promise_pauses_until_its_date_and_resume_ends_a_dispute(tmp_path: Path) -> None:
    config = configure(tmp_path)
    run(config, "dunning", "--date", "2026-03-12", "promise", "C1", "2026-03-20")
    assert not [
        r
        for r in dunning_json(config, "--date", "2026-03-13")["reminders"]
        if r["customer"] == "books:C1"
    ]
    held = dunning_json(config, "--date", "2026-03-13")["held"]
    assert [(h["customer"], h["kind"], h["until"]) for h in held] == [
        ("books:C1", "promise", "2026-03-20")
    ]
    after = dunning_json(config, "--date", "2026-03-21")["reminders"]
    assert [r["step"] for r in after if r["customer"] == "books:C1"] == ["friendly"]
    run(config, "dunning", "--date", "2026-03-21", "dispute", "C1", "--reason", "livraison")
    assert not [
        r
        for r in dunning_json(config, "--date", "2026-03-22")["reminders"]
        if r["customer"] == "books:C1"
    ]
    run(config, "dunning", "--date", "2026-03-23", "resume", "C1")
    after = dunning_json(config, "--date", "2026-03-23")["reminders"]
    assert [r["step"] for r in after if r["customer"] == "books:C1"] == ["friendly"]
    assert "no customer 'C9'" in run(config, "dunning", "pause", "C9", expect=78)


def test_the_command_is_there_when_run_as_a_module() -> None:
    import subprocess
    import sys

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "encours.cli", "dunning", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--send / --dry-run" in result.stdout
