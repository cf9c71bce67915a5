"""Make the README's pictures: the demo's HTML report and `status --customer`, in French.

Run from the repository root, with Chromium installed (`apt-get install chromium`):

    python docs/screenshots.py

It runs the demo in a temporary folder, loads its report in headless Chromium (the tests'
`tests/browser.py`) and photographs its top; then it shows `status --customer C0006` as a
terminal would (white on dark, monospace) and photographs that. Writes docs/report.png and
docs/status-customer.png.
"""

from __future__ import annotations

import html
import os
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "tests"))

from browser import Browser, chromium_path  # noqa: E402

from encours.cli import cli  # noqa: E402

TERMINAL = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #1e1e1e; }}
pre {{ color: #e8e8e8; font: 13px/1.35 "DejaVu Sans Mono", monospace; padding: 14px;
       margin: 0; white-space: pre; }}
</style></head><body><pre>{text}</pre></body></html>"""


def main() -> None:
    """Write the two pictures; exit 1 saying why when Chromium is missing."""
    executable, why = chromium_path()
    if executable is None:
        sys.exit(why)
    os.environ["LANG"] = "fr_FR.UTF-8"
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as work, Browser(executable) as browser:
        folder = Path(work) / "demo"
        runner.invoke(cli, ["demo", "--dir", str(folder)], catch_exceptions=False)
        page = browser.load(folder / "rapport.html", height=1500, scale=0.6)
        (DOCS / "report.png").write_bytes(page.screenshot)
        result = runner.invoke(
            cli,
            [
                "--config",
                str(folder / "config.toml"),
                "status",
                "--customer",
                "C0006",
                "--as-of",
                "2026-10-31",
            ],
            catch_exceptions=False,
        )
        lines = ["$ encours status --customer C0006", *result.stdout.splitlines()[:24]]
        terminal = Path(work) / "terminal.html"
        terminal.write_text(TERMINAL.format(text=html.escape("\n".join(lines))), "utf-8")
        page = browser.load(terminal, scale=0.8)
        (DOCS / "status-customer.png").write_bytes(page.screenshot)


if __name__ == "__main__":
    main()
