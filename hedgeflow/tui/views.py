"""What each pane is given to draw: small frozen values built by the App from its state.

A pane holds exactly one of these in its reactive and redraws when it changes; it
never reaches into the App or computes anything beyond layout and formatting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.color import Color

from hedgeflow.app.history import SymbolHistory
from hedgeflow.engine.types import ExpiryAnalysis, ExposurePerExpiry


@dataclass(frozen=True)
class Palette:
    """Colors from the `[colors]` config table (Textual color names or hex)."""

    stable: str = "green"
    unstable: str = "red"
    spot: str = "yellow"
    repriced: str = "cyan"
    stale: str = "magenta"

    def __post_init__(self) -> None:
        from textual.color import ColorParseError

        from hedgeflow.app.config import ConfigError

        for name in ("stable", "unstable", "spot", "repriced", "stale"):
            try:
                Color.parse(getattr(self, name))
            except ColorParseError:
                raise ConfigError(
                    f"`colors.{name}`: not a color: {getattr(self, name)!r} (a name like "
                    "'green' or hex like '#00ff00')"
                ) from None

    def hex(self, name: str) -> str:
        """A Rich color for styles (`#rrggbb`, or `color(n)` for an ANSI color), since Rich
        knows fewer color names than Textual."""
        c = Color.parse(getattr(self, name))
        return f"color({c.ansi})" if c.ansi is not None else c.hex[:7]

    def rgb(self, name: str) -> tuple[int, int, int] | int:
        """A chart color: an RGB triple, or the 256-color code of an ANSI color."""
        c = Color.parse(getattr(self, name))
        return c.ansi if c.ansi is not None else (c.r, c.g, c.b)


@dataclass(frozen=True)
class PaneView:
    """One symbol's analysis as a pane shows it.

    analysis : None until the first analysis of the symbol is ready
    stale : the data is older than the stale limit (shown as STALE on the pane)
    waiting : what the pane says while there is no analysis ("waiting for SPX ...")

    Equality compares the analysis by identity (ExpiryAnalysis has eq=False) and the rest
    by value, so re-assigning an unchanged view does not redraw the pane.
    """

    symbol: str
    analysis: ExpiryAnalysis | None
    stale: bool = False
    waiting: str = ""


#: The impulse chart's zoom steps: the visible half-range as a multiple of the configured
#: range (below 1 zoomed in; above 1 zoomed out, computed on a wider grid).
ZOOM_LEVELS = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class ImpulseView(PaneView):
    """zoom : visible half-range as a multiple of the configured range_percent;
    repriced : show the repriced total-impulse profile instead of the smoothed density."""

    zoom: float = 1.0
    repriced: bool = False
    range_percent: float = 3.0


@dataclass(frozen=True)
class StrikesView(PaneView):
    """The exposures-by-strike pane's input.

    greek : "GEX", "VEX", "CEX" or "DEX" (`app.strikes.Greek`); split : "net" or
    "calls/puts" (`app.strikes.Split`); levels : (name, price) rules to draw between
    strikes (spot is always drawn); exposure : the per-strike exposures to draw, None for
    the analysis' own (a scope passes its sum over expiries); scope : the title's words
    for what is summed ("" for the analyzed expiry)."""

    greek: str = "GEX"
    split: str = "net"
    levels: tuple[tuple[str, float], ...] = ()
    exposure: ExposurePerExpiry | None = None
    scope: str = ""


@dataclass(frozen=True)
class TimeView(PaneView):
    """The history pane's and the heatmap's input: the symbol's session history.

    history : the symbol's `SymbolHistory` (compared by identity) and its `version` (so a
        view is new exactly when the history moved); scope : the scope label whose rows are
        drawn (the analysis on screen's); clock : what the data's clock is ("sim clock",
        "recorded", "" for a live feed: `present.clock_words`); lens : the heatmap's
        `app.heatmap.Lens` value"""

    history: SymbolHistory | None = None
    version: int = -1
    scope: str = ""
    clock: str = ""
    lens: str = "impulse"

    @property
    def axis_tag(self) -> str:
        """The time axis' label: "ET" for a live feed, else the clock's kind first ("sim
        ET", "rec ET", "file ET"), so simulated or recorded time never reads as live even
        where the title is cut."""
        if not self.clock:
            return "ET"
        word = self.clock.split()[0]
        return f"{'rec' if word == 'recorded' else word} ET"


@dataclass(frozen=True)
class SymbolTab:
    symbol: str
    state: str  # "ok" | "waiting" | "error" | "stale"


@dataclass(frozen=True)
class SymbolBarView:
    tabs: tuple[SymbolTab, ...]
    active: str
    paused: bool = False
    recording: bool = False
    regime: str = ""


@dataclass(frozen=True)
class StatusView:
    """Every field is already a display string (the App formats times against the
    injected clock), so the status line renders deterministically in tests."""

    feed: str
    symbol: str
    #: "SIMULATED", "REPLAY", "FILE" for a feed whose clock is not the market's now; "" live.
    badge: str = ""
    expiry: str = ""
    as_of: str = ""
    age: str = ""
    delay: str = ""
    positions: str = ""
    next_poll: str = ""
    recording: bool = False
    paused: bool = False
    stale: bool = False
    error: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The error conditions in effect across every symbol (`ErrorLog.status`): feed,
    #: condition, the symbol or how many, next retry; "" when nothing is wrong.
    conditions: str = ""
