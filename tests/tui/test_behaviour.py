"""Monitor behaviour beyond single keys: alerts with the bell, layouts from 80x24 up,
NO_COLOR, logging to a file only."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from hedgeflow.feeds.sim import SimFeed
from hedgeflow.tui.app import configure_logging
from hedgeflow.tui.panes import CharmPane, ImpulsePane, RegimePane, StatusLine, SymbolBar, ZonesPane
from tests.tui.conftest import make_app, notifications, wait_for_analyses, wait_until


async def test_alerts_notify_and_ring_the_bell(tmp_path: Path, sim: SimFeed) -> None:
    """Drive the seeded market forward five minutes a poll until SPX raises an alert
    (regime change, flip crossed or zone entered); with bell on, the bell rings with it."""
    app = make_app(
        symbols=["SPX"], export_dir=tmp_path, poll_interval=0.05, frozen=False, bell=True
    )
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        for _ in range(60):
            first = app.states["SPX"].analysis
            sim.advance(300.0)
            await wait_until(pilot, lambda first=first: app.states["SPX"].analysis is not first)
            if any(str(n.title).startswith("Alert") for n in notifications(app)):
                break
        alerts = [n for n in notifications(app) if str(n.title).startswith("Alert")]
        assert alerts, "no alert in five simulated hours"
        assert all(n.message.startswith("SPX: ") for n in alerts)
        assert len(rings) >= len(alerts) >= 1


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (200, 60)])
async def test_every_pane_visible_at_every_size(tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(symbols=["SPX", "SPY"], export_dir=tmp_path)
    async with app.run_test(size=size) as pilot:
        await wait_for_analyses(pilot, app)
        compact = app.screen.has_class("-compact")
        assert compact == (size[0] < 110 or size[1] < 32)
        for pane_type in (ImpulsePane, RegimePane, ZonesPane, CharmPane):
            region = app.screen.query_one(pane_type).content_region
            assert region.height >= 6 and region.width >= 30, (pane_type.__name__, region)
        zones = app.screen.query_one(ZonesPane)
        assert zones.content_region.height >= 5  # header + rows, not a zero-height pane
        status = app.screen.query_one(StatusLine)
        assert status.region.height == 2 and status.region.bottom <= size[1] - 1
        assert app.screen.query_one(SymbolBar).region.height == 1
        if size[0] >= 120:
            # No clipped status line: both lines fit without the ellipsis.
            lines = [strip.text for strip in status.render_lines(status.region.reset_offset)]
            assert not any(line.rstrip().endswith("…") for line in lines), lines
        regime_text = "".join(
            s.text
            for s in app.screen.query_one(RegimePane).render_lines(
                app.screen.query_one(RegimePane).region.reset_offset
            )
        )
        for label in ("regime", "H spot", "flip", "k", "ATM IV", "bias", "model"):
            assert label in regime_text, (label, size)


async def test_no_color_env_and_colors_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(symbols=["SPX"], export_dir=tmp_path)
    assert app.no_color
    monkeypatch.delenv("NO_COLOR")
    plain = make_app(symbols=["SPX"], export_dir=tmp_path, colors=False)
    assert plain.no_color and any(type(f).__name__ == "Monochrome" for f in plain._filters)
    async with plain.run_test(size=(80, 24)) as pilot:
        await wait_for_analyses(pilot, plain)
        # The stale marker and every label are words, so nothing depends on color.
        assert "SPX" in str(plain.screen.query_one(RegimePane).border_title)


def test_logging_goes_to_the_file_only(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        log_file = tmp_path / "state" / "hedgeflow.log"
        # An earlier test's in-process command (analyze --feed, record) may have captured
        # warnings already, and pytest has since put its own showwarning back: start clean
        logging.captureWarnings(False)
        configure_logging(log_file)
        assert all(
            not (
                isinstance(h, logging.StreamHandler)
                and getattr(h, "stream", None) in (sys.stderr, sys.stdout)
            )
            for h in root.handlers
        )
        logging.getLogger("hedgeflow.tui").warning("poll failed: test")
        import warnings

        with warnings.catch_warnings():
            # "always": whatever filters earlier tests or libraries left behind (a warning
            # already shown once from here is otherwise suppressed), this one is emitted
            warnings.simplefilter("always")
            warnings.warn("a library warning", RuntimeWarning, stacklevel=1)
        for h in root.handlers:
            h.flush()
        text = log_file.read_text()
        assert "poll failed: test" in text and "a library warning" in text
    finally:
        logging.captureWarnings(False)
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])


async def test_engine_failure_shown_once_and_last_analysis_kept(
    tmp_path: Path, sim: SimFeed
) -> None:
    from hedgeflow.engine.pipeline import AnalysisError, analyze_chain

    failing = {"on": False}

    def analyze(chain, **kw):  # the real pipeline, failing on demand
        if failing["on"]:
            raise AnalysisError("no usable expiry: test failure")
        return analyze_chain(chain, **kw)

    app = make_app(
        symbols=["SPX"], export_dir=tmp_path, poll_interval=0.05, frozen=False, analyze=analyze
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_analyses(pilot, app)
        good = app.states["SPX"].analysis
        failing["on"] = True
        for _ in range(3):  # three changed snapshots, three failed analyses
            chain = app.states["SPX"].chain
            sim.advance(60.0)
            await wait_until(pilot, lambda chain=chain: app.states["SPX"].chain is not chain)
            await wait_until(pilot, lambda: not app.states["SPX"].busy)
        assert app.states["SPX"].analysis is good
        await wait_until(pilot, lambda: "engine:" in app.screen.query_one(StatusLine).view.error)
        failures = [n for n in notifications(app) if "analysis failed" in n.message]
        assert len(failures) == 1
        failing["on"] = False
        sim.advance(60.0)
        await wait_until(pilot, lambda: app.states["SPX"].analysis is not good)
        assert app.states["SPX"].engine_error == ""


def test_unknown_keymap_id_is_rejected_by_name(tmp_path: Path) -> None:
    from hedgeflow.app.config import ConfigError

    with pytest.raises(ConfigError, match="keymap.next_expiry"):
        make_app(symbols=["SPX"], export_dir=tmp_path, keymap={"next_expiry": "n"})


@pytest.mark.parametrize(
    ("keymap", "named"),
    [
        ({"quit": "x"}, ("keymap.quit", "'x'", "export")),
        ({"export": "q"}, ("keymap.export", "'q'", "quit")),
        ({"next-expiry": "n"}, ("keymap.next-expiry", "'n'", "strike-greek")),
        ({"help": "f1,w"}, ("keymap.help", "'w'", "watchlist")),
    ],
)
def test_a_keymap_that_puts_one_key_on_two_bindings_is_rejected(
    tmp_path: Path, keymap: dict[str, str], named: tuple[str, ...]
) -> None:
    """Textual runs one of the two and never the other, while the help screen listed the
    key for both: with `quit = "x"` the x the help said exports quit the monitor."""
    from hedgeflow.app.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        make_app(symbols=["SPX"], export_dir=tmp_path, keymap=keymap)
    for name in named:
        assert name in str(caught.value), str(caught.value)


def test_a_keymap_may_swap_two_keys(tmp_path: Path) -> None:
    app = make_app(
        symbols=["SPX"], export_dir=tmp_path, keymap={"next-expiry": "n", "strike-greek": "e"}
    )
    assert app.keymap == {"next-expiry": "n", "strike-greek": "e"}


def test_palette_colors_checked_and_converted() -> None:
    from hedgeflow.app.config import ConfigError
    from hedgeflow.tui.views import Palette

    p = Palette(stable="ansi_green", stale="#ff00ff")
    assert p.hex("stable") == "color(2)" and p.rgb("stable") == 2  # ANSI color stays ANSI
    assert p.hex("stale") == "#FF00FF" and p.rgb("spot") == (255, 255, 0)
    with pytest.raises(ConfigError, match="colors.spot"):
        Palette(spot="not-a-colour")
