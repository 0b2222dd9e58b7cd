"""Save a screenshot of the monitor on the simulated feed: `python -m hedgeflow.tui.screenshot`.

Runs the real app headless on the seeded sim (frozen clock), waits for every symbol's
analysis and writes an SVG (and a PNG when `cairosvg` is installed) — the README's
picture, reproducible: docs/screenshot.svg / docs/screenshot.png by default.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App

from hedgeflow.app.history import CurveSample, HistoryRow, curve_sample, history_row
from hedgeflow.feeds.sim import SimFeed

START = "2026-11-24T10:30:00-05:00"
SYMBOLS = ["SPX", "SPY", "QQQ", "NDX", "IWM"]
#: Seconds between polls in the picture (the configuration's default).
POLL_INTERVAL = 5.0

if TYPE_CHECKING:
    from hedgeflow.tui.app import HedgeflowApp


def save_without_notices(app: App[Any], name: str, folder: Path) -> None:
    """`s` in the monitor: save the screen as `folder/name` (SVG) without the notices
    (toasts) on it — a screenshot shows the monitor, not the toast of the last export — and
    then say where it went. The notices are hidden for the next repaint, which the picture
    is taken after, and shown again."""
    screen = app.screen
    racks = list(screen.query("ToastRack"))
    for rack in racks:
        rack.display = False

    def save() -> None:
        saved = ""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            saved = app.save_screenshot(filename=name, path=str(folder))
        except OSError as exc:
            app.notify(f"screenshot failed: {exc}", severity="error", timeout=8)
        finally:
            for rack in racks:
                rack.display = True
        if saved:
            app.notify(saved, title="Screenshot saved", timeout=8)

    # The screen (not the app) runs it once its layout is redone without the notices.
    screen.call_after_refresh(save)


@cache
def earlier_session(
    seed: int, start: str, symbol: str, minutes: int, step: int
) -> tuple[tuple[HistoryRow, CurveSample], ...]:
    """Real analyses of the seeded sim over the `minutes` before `start`, one every `step`
    minutes, oldest first (the same numbers every call: kept for the next picture)."""
    from hedgeflow.engine.scope import analyze_scope

    feed = SimFeed(seed=seed, start=start, speed=0.0)
    now = feed.clock()
    out = []
    for k in range(minutes // step, 0, -1):
        t = now - timedelta(minutes=k * step)
        a = analyze_scope(feed.chain_at(symbol, t), now=t)
        out.append((history_row(a), curve_sample(a)))
    return tuple(out)


def prefill_history(
    app: HedgeflowApp,
    *,
    seed: int,
    start: str,
    minutes: int,
    step: int = 5,
    symbols: Sequence[str] | None = None,
) -> None:
    """Give the app's symbols the session before `start` (`earlier_session`) so the
    history pane and the heatmap show a session, not one analysis (the README's picture,
    the snapshot tests). Only for the default (nearest) scope the analyses are of."""
    for sym in symbols or app.symbols:
        for row, sample in earlier_session(seed, start, sym, minutes, step):
            app.states[sym].history.add(row, sample)


async def take(
    svg: Path,
    *,
    size: tuple[int, int],
    start: str,
    seed: int,
    keys: Sequence[str],
    history: int = 0,
) -> Path:
    from hedgeflow.tui.app import HedgeflowApp

    feed = SimFeed(seed=seed, start=start, speed=0.0)
    # A poll interval a user would choose, on a frozen scheduling clock: the status line
    # reads "next poll in 5s", as on a live screen.
    app = HedgeflowApp(
        feed, SYMBOLS, poll_interval=POLL_INTERVAL, export_dir=svg.parent, monotonic=lambda: 0.0
    )
    if history:
        prefill_history(app, seed=seed, start=start, minutes=history)
    async with app.run_test(size=size) as pilot:
        while not all(s.analysis is not None and not s.busy for s in app.states.values()):
            await pilot.pause(0.05)
        if keys:
            await pilot.press(*keys)
        await pilot.pause(0.3)
        svg.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=svg.name, path=str(svg.parent))
    return svg


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hedgeflow.tui.screenshot", description=__doc__)
    p.add_argument("--out", default="docs/screenshot.svg")
    p.add_argument("--size", default="120x40", help="WIDTHxHEIGHT")
    p.add_argument("--start", default=START, help="simulated time (ISO-8601 with offset)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keys", default="", help="keys to press first, comma-separated (e.g. 2,g)")
    p.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="MINUTES",
        help="analyses of the sim every 5 minutes over this many minutes before --start "
        "(the history pane and heatmap then show a session)",
    )
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    keys = [k for k in args.keys.split(",") if k]
    svg = asyncio.run(
        take(
            Path(args.out),
            size=(width, height),
            start=args.start,
            seed=args.seed,
            keys=keys,
            history=args.history,
        )
    )
    print(svg)
    png = svg.with_suffix(".png")
    try:
        import cairosvg  # optional: only to give the README a PNG as well
    except ImportError:
        # librsvg's converter, where it is installed, makes the same PNG.
        import shutil
        import subprocess

        rsvg = shutil.which("rsvg-convert")
        if rsvg is None:
            return 0
        subprocess.run([rsvg, "-w", str(width * 12), str(svg), "-o", str(png)], check=True)
    else:
        cairosvg.svg2png(url=str(svg), write_to=str(png), output_width=width * 12)
    print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
