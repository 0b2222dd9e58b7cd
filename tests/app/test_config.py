"""Configuration: the documented config.toml is the defaults; bad keys and values are named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hedgeflow.app.config import DEFAULTS, ConfigError, load_settings, merge_config
from hedgeflow.engine.enums import EngineModel, PositioningModel

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
    ],
)
def test_bad_key_or_value_is_named(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as info:
        load_settings(path)
    assert str(path) in str(info.value)


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
