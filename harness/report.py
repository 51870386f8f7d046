"""Write a benchmark's figures into docs/performance.md, replacing its previous section."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

PERFORMANCE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
HEADER = """# Performance

Figures written by the benchmarks in `bench/` (each section names the command that produced
it). They are measurements on the machine named, not targets; the targets live in the issues.
"""


def write_section(title: str, command: str, machine: str, lines: list[str]) -> None:
    """Replace (or add) the ``## title`` section of docs/performance.md."""
    text = PERFORMANCE.read_text() if PERFORMANCE.exists() else HEADER
    today = dt.datetime.now(dt.UTC).date().isoformat()
    body = "\n".join([f"## {title}", "", f"`{command}` — {today}, {machine}", "", *lines, ""])
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    PERFORMANCE.write_text(text.rstrip("\n") + "\n")
