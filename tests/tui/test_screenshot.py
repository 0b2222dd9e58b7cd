"""The README's picture (`python -m hedgeflow.tui.screenshot`): the monitor on the seeded
sim with a poll interval a user would choose, and the committed picture is a current one."""

from __future__ import annotations

import html
import re
from pathlib import Path

from hedgeflow.tui.screenshot import POLL_INTERVAL, take

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _text(svg: str) -> str:
    body = svg.split("</style>", 1)[-1]
    return html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")


async def test_the_picture_shows_a_sensible_poll(tmp_path: Path) -> None:
    assert POLL_INTERVAL <= 60
    svg = await take(
        tmp_path / "shot.svg",
        size=(120, 40),
        start="2026-11-24T10:30:00-05:00",
        seed=7,
        keys=[],
    )
    text = _text(svg.read_text(encoding="utf-8"))  # noqa: ASYNC240
    assert "next poll in 5s" in text
    assert "1h00m" not in text
    assert "SIMULATED" in text and "2026-11-24 10:30:00 ET" in text


def test_the_readme_picture_is_current() -> None:
    text = _text((DOCS / "screenshot.svg").read_text(encoding="utf-8"))
    assert "next poll in 5s" in text and "1h00m" not in text
    assert "EM " in text and "to 16:00 settlement" in text  # made after the horizon fix
    # the heatmap over the first hour (README "How to read the heatmap"), its scale named
    assert "H(S) heatmap · SPX since 09:30 ET (sim clock" in text
    assert "p98|cell|" in text and "sim ET 09:30" in text and "13 analyses" in text
    assert (DOCS / "screenshot.png").stat().st_mtime >= (
        DOCS / "screenshot.svg"
    ).stat().st_mtime - 60
