"""Configuration: the documented config.toml is the defaults; bad keys and values are named."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from hedgeflow.app.config import (
    DEFAULTS,
    ColorSettings,
    ConfigError,
    MonitorSettings,
    Settings,
    default_settings,
    load_settings,
    merge_config,
)
from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource

ROOT = Path(__file__).resolve().parents[2]


def test_documented_config_is_exactly_the_defaults() -> None:
    documented = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    assert merge_config(documented) == DEFAULTS
    # every default key is documented (and nothing else)
    assert set(documented) == set(DEFAULTS)
    for section in ("monitor", "engine", "colors"):
        assert set(documented[section]) == set(DEFAULTS[section])
    assert set(documented["feeds"]) == set(DEFAULTS["feeds"])
    for feed, keys in DEFAULTS["feeds"].items():
        assert set(documented["feeds"][feed]) == set(keys)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[monitor]\npoll_intervall = 5\n", "monitor.poll_intervall"),
        ("[monitor]\npoll_interval = -1\n", "monitor.poll_interval"),
        ("[monitor]\npoll_interval = 'fast'\n", "monitor.poll_interval"),
        ("[monitor]\nfeed = 'bloomberg'\n", "monitor.feed"),
        ("[monitor]\nsymbols = []\n", "monitor.symbols"),
        ("[engine]\nmodel = 'magic'\n", "engine.model"),
        ("[engine]\nskew_stickiness = 4\n", "engine.skew_stickiness"),
        ("[engine]\nrate = nan\n", "engine.rate"),
        ("[futures.SPX]\ncontracts = { ES = -50 }\n", "futures.SPX.contracts.ES"),
        ("[futures.SPX]\nratoi = 1\n", "futures.SPX.ratoi"),
        ("[feeds.bloomberg]\nx = 1\n", "feeds.bloomberg"),
        ("[colours]\nstable = 'green'\n", "colours"),
        ("[monitor]\nbell = 'yes'\n", "monitor.bell"),
        ("[monitor]\npoll_interval = 1e-9\n", "monitor.poll_interval"),
        ("[monitor]\npoll_interval = 1e300\n", "monitor.poll_interval"),
        ("[monitor]\npoll_interval = nan\n", "monitor.poll_interval"),
        ("[monitor]\npoll_interval = inf\n", "monitor.poll_interval"),
        # every feed section is checked, whichever feed is used
        ("[feeds.tradier]\ntokn_env = 'X'\n", "feeds.tradier.tokn_env"),
        ("[feeds.schwab]\nrefresh_token = 'X'\n", "feeds.schwab.refresh_token"),
        ("[feeds.cboe]\nbase_ulr = 'https://x.test'\n", "feeds.cboe.base_ulr"),
        ("[feeds.file]\npaths = 'x.csv'\n", "feeds.file.paths"),
        ("[feeds.replay]\nsped = 2\n", "feeds.replay.sped"),
        ("[feeds.sim]\nsede = 2\n", "feeds.sim.sede"),
    ],
)
def test_bad_key_or_value_is_named(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as info:
        load_settings(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("interval", [0.05, 1, 86400])
def test_interval_range_ends_are_accepted(tmp_path: Path, interval: float) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[monitor]\npoll_interval = {interval}\n", encoding="utf-8")
    assert load_settings(path).monitor.poll_interval == interval


def test_keys_every_feed_takes_are_accepted(tmp_path: Path) -> None:
    """The HTTP feeds' common keys and each feed's own are known to the configuration."""
    path = tmp_path / "config.toml"
    path.write_text(
        "[feeds.cboe]\nread_timeout = 3.0\nmax_attempts = 2\n"
        "[feeds.schwab]\nstrike_count = 40\n[feeds.replay]\nloop = true\n",
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.feed_section("cboe")["read_timeout"] == 3.0
    assert settings.feed_section("schwab")["strike_count"] == 40
    assert settings.feed_section("replay") == {"path": "", "speed": 1.0, "loop": True}


def test_non_utf8_config_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[monitor]\nbell = true\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8 text \\(line 3\\)") as info:
        load_settings(path)
    assert str(path) in str(info.value)


def test_a_directory_as_config_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path)


def test_settings_are_typed_and_read_only(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[monitor]\nsymbols = ['spx', 'qqq']\npositions = 'live'\nbell = true\n"
        "[colors]\nstale = '#ff00ff'\n[keymap]\nnext-expiry = 'n'\n",
        encoding="utf-8",
    )
    s = load_settings(path)
    assert isinstance(s, Settings) and isinstance(s.monitor, MonitorSettings)
    assert s.monitor.symbols == ("SPX", "QQQ") and s.monitor.bell is True
    assert s.monitor.positions is PositionSource.LIVE
    assert s.engine_config("SPX").positions is PositionSource.LIVE
    assert s.colors == ColorSettings("green", "red", "yellow", "cyan", "#ff00ff")
    assert dict(s.keymap) == {"next-expiry": "n"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.monitor.poll_interval = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.keymap["quit"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        s.feeds["sim"]["seed"] = 1  # type: ignore[index]
    section = s.feed_section("sim")
    section["seed"] = 99  # a copy: the settings stay as loaded
    assert s.feed_section("sim")["seed"] == 7


def test_defaults_are_the_documented_file() -> None:
    documented = load_settings(ROOT / "config.toml")
    assert dataclasses.replace(documented, source="x") == dataclasses.replace(
        default_settings(), source="x"
    )
    assert default_settings().engine_config("SPY") == documented.engine_config("SPY")


def test_one_feed_registry() -> None:
    """The configuration's and the command line's feed names are the registry's."""
    from hedgeflow.app import config
    from hedgeflow.cli import build_parser
    from hedgeflow.feeds.base import FEEDS

    assert tuple(DEFAULTS["feeds"]) == tuple(FEEDS) == config.FEED_NAMES
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("monitor", "analyze"):
        feed = next(a for a in sub[command]._actions if a.dest == "feed")
        assert tuple(feed.choices) == tuple(FEEDS)
    record = next(a for a in sub["record"]._actions if a.dest == "feed")
    assert tuple(record.choices) == tuple(n for n in FEEDS if n != "replay")


def test_not_toml_and_missing_file_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[monitor\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")


def test_user_values_reach_the_engine_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[engine]\nmodel = 'floe'\nrate = 0.05\nskew_stickiness = 2.0\n"
        "[futures.SPY]\nratio = 10.5\n",
        encoding="utf-8",
    )
    settings = load_settings(path)
    spx = settings.engine_config("SPX")
    assert spx.model is EngineModel.FLOE
    assert spx.effective_positioning is PositioningModel.FLOE
    assert spx.rate == 0.05 and spx.impulse.skew_stickiness == 2.0
    assert [f.name for f in spx.cloud.futures] == ["ES", "MES"]
    spy = settings.engine_config("SPY")
    assert spy.cloud.futures_ratio == 10.5
    ndx = settings.engine_config("NDX")
    assert {f.name: f.multiplier for f in ndx.cloud.futures} == {"NQ": 20.0, "MNQ": 2.0}


@pytest.mark.parametrize("feed", ["sim", "cboe", "tradier", "schwab"])
def test_documented_feed_sections_build_their_feed(feed: str) -> None:
    """Every documented feed key is one the feed accepts (no feed is contacted)."""
    from hedgeflow.feeds.base import open_feed

    built = open_feed(feed, DEFAULTS["feeds"][feed])
    assert built.name == feed


@pytest.mark.parametrize("feed", ["file", "replay"])
def test_file_feeds_need_a_path(feed: str, tmp_path: Path) -> None:
    from hedgeflow.feeds.base import open_feed

    with pytest.raises(ValueError, match="path"):
        open_feed(feed, {**DEFAULTS["feeds"][feed], "path": ""})


def test_unknown_feed_key_is_named() -> None:
    from hedgeflow.feeds.base import open_feed

    for feed in ("sim", "cboe", "tradier", "schwab", "replay"):
        with pytest.raises(ValueError, match="colour"):
            open_feed(feed, {"colour": 1, "path": "x.sqlite"})


def test_documented_feed_keys_are_keys_the_feeds_take() -> None:
    """The configuration accepts a documented key without asking the feed: each one must be
    a key the feed's class declares."""
    from hedgeflow.feeds.base import config_keys

    for feed, section in DEFAULTS["feeds"].items():
        declared = config_keys(feed)
        assert declared is None or set(section) <= declared, feed


def test_loading_the_documented_config_imports_no_feed() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\nfrom hedgeflow.app.config import load_settings\n"
        f"load_settings({str(ROOT / 'config.toml')!r})\n"
        "print(sorted(m for m in sys.modules if m.startswith('hedgeflow.feeds.')"
        " and m != 'hedgeflow.feeds.base') + sorted({'httpx'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
