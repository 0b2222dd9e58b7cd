"""Configuration: `--config FILE`, else the user config directory, else built-in defaults.

The defaults below are exactly what the documented `config.toml` at the
repository root says (a test checks it). Every key is validated here: an
unknown key or a bad value raises `ConfigError` naming the key, before anything
starts. Feed sections are validated by the feed's own `from_config` when the
feed is built, which also happens before the monitor starts.
"""

from __future__ import annotations

import copy
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource
from hedgeflow.engine.types import (
    CharmIntegralConfig,
    FuturesContract,
    HedgeImpulseConfig,
    PressureCloudConfig,
)

APP_NAME = "hedgeflow"
FEED_NAMES = ("sim", "cboe", "tradier", "schwab", "file", "replay")


class ConfigError(ValueError):
    """A configuration problem, naming the file and key."""


def _futures(ratio: float, **contracts: float) -> dict[str, Any]:
    return {"ratio": ratio, "contracts": dict(contracts)}


DEFAULTS: dict[str, Any] = {
    "monitor": {
        "feed": "sim",
        "symbols": ["SPX", "SPY", "QQQ", "NDX", "IWM"],
        "poll_interval": 5.0,
        "stale_after_polls": 3,
        "bell": False,
        "export_dir": "",
        "log_file": "",
        "positions": "start-of-day",
    },
    "engine": {
        "model": "physical",
        "positioning": "",
        "rate": 0.045,
        "skew_stickiness": 1.5,
        "range_percent": 3.0,
        "step_percent": 0.05,
        "kernel_width_strikes": 2.0,
        "eps": 0.001,
        "asymmetry_percent": 0.5,
        "charm_step_minutes": 15.0,
        "reachability_multiple": 2.0,
        "zone_threshold": 0.15,
    },
    "futures": {
        "SPX": _futures(1.0, ES=50.0, MES=5.0),
        "SPY": _futures(10.0, ES=50.0, MES=5.0),
        "NDX": _futures(1.0, NQ=20.0, MNQ=2.0),
        "QQQ": _futures(41.0, NQ=20.0, MNQ=2.0),
        "RUT": _futures(1.0, RTY=50.0, M2K=5.0),
        "IWM": _futures(10.0, RTY=50.0, M2K=5.0),
    },
    "colors": {
        "stable": "green",
        "unstable": "red",
        "spot": "yellow",
        "repriced": "cyan",
        "stale": "magenta",
    },
    "keymap": {},
    "feeds": {
        "sim": {
            "seed": 7,
            "start": "auto",
            "speed": 1.0,
            "symbols": ["SPX", "SPY", "QQQ", "NDX", "IWM"],
            "jump_intensity": 1.0,
            "skew_stickiness": 1.5,
            "rate": 0.045,
            "activity": 1.0,
            "delay_seconds": 0.0,
        },
        "cboe": {"base_url": "https://cdn.cboe.com/api/global/delayed_quotes", "timeout": 10.0},
        "tradier": {
            "token_env": "TRADIER_TOKEN",
            "sandbox": False,
            "timeout": 10.0,
            "max_expirations": 3,
        },
        "schwab": {
            "app_key_env": "SCHWAB_APP_KEY",
            "app_secret_env": "SCHWAB_APP_SECRET",
            "refresh_token_env": "SCHWAB_REFRESH_TOKEN",
            "base_url": "https://api.schwabapi.com/marketdata/v1",
            "token_url": "https://api.schwabapi.com/v1/oauth/token",
            "timeout": 10.0,
            "max_days": 7,
        },
        "file": {"path": ""},
        "replay": {"path": "", "speed": 1.0, "loop": False},
    },
}


# ------------------------------------------------------------------ validators

Check = Callable[[str, Any], Any]


def _number(lo: float | None = None, hi: float | None = None, *, open_lo: bool = False) -> Check:
    def check(key: str, value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConfigError(f"`{key}` must be a finite number, got {value!r}")
        v = float(value)
        if lo is not None and (v <= lo if open_lo else v < lo):
            raise ConfigError(f"`{key}` must be {'>' if open_lo else '>='} {lo}, got {v}")
        if hi is not None and v > hi:
            raise ConfigError(f"`{key}` must be <= {hi}, got {v}")
        return v

    return check


def _integer(lo: int) -> Check:
    def check(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ConfigError(f"`{key}` must be an integer >= {lo}, got {value!r}")
        return value

    return check


def _choice(*options: str) -> Check:
    def check(key: str, value: Any) -> str:
        if value not in options:
            raise ConfigError(
                f"`{key}` must be one of {', '.join(map(repr, options))}, got {value!r}"
            )
        return str(value)

    return check


def _boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"`{key}` must be true or false, got {value!r}")
    return value


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"`{key}` must be a string, got {value!r}")
    return value


def _symbols(key: str, value: Any) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(s, str) and s.strip() for s in value)
    ):
        raise ConfigError(f"`{key}` must be a non-empty list of symbols, got {value!r}")
    symbols = [s.strip().upper() for s in value]
    if len(set(symbols)) != len(symbols):
        raise ConfigError(f"`{key}` lists a symbol twice")
    return symbols


SCHEMA: dict[str, dict[str, Check]] = {
    "monitor": {
        "feed": _choice(*FEED_NAMES),
        "symbols": _symbols,
        "poll_interval": _number(0.0, open_lo=True),
        "stale_after_polls": _integer(1),
        "bell": _boolean,
        "export_dir": _string,
        "log_file": _string,
        "positions": _choice(*(p.value for p in PositionSource)),
    },
    "engine": {
        "model": _choice(*(m.value for m in EngineModel)),
        "positioning": _choice("", *(p.value for p in PositioningModel)),
        "rate": _number(-0.1, 1.0),
        "skew_stickiness": _number(0.0, 3.0),
        "range_percent": _number(0.0, 50.0, open_lo=True),
        "step_percent": _number(0.0, 5.0, open_lo=True),
        "kernel_width_strikes": _number(0.0, 50.0, open_lo=True),
        "eps": _number(0.0, 0.5),
        "asymmetry_percent": _number(0.0, 50.0, open_lo=True),
        "charm_step_minutes": _number(0.0, 1440.0, open_lo=True),
        "reachability_multiple": _number(0.0, open_lo=True),
        "zone_threshold": _number(0.0, 1.0),
    },
    "colors": {name: _string for name in DEFAULTS["colors"]},
}


def _merge_section(name: str, base: dict[str, Any], user: Any, schema: Mapping[str, Check]) -> None:
    if not isinstance(user, Mapping):
        raise ConfigError(f"`[{name}]` must be a table")
    for key, value in user.items():
        if key not in schema:
            raise ConfigError(f"unknown key `{name}.{key}` (known: {', '.join(schema)})")
        base[key] = schema[key](f"{name}.{key}", value)


def _merge_futures(base: dict[str, Any], user: Any) -> None:
    if not isinstance(user, Mapping):
        raise ConfigError("`[futures]` must be a table of underlyings")
    for symbol, table in user.items():
        where = f"futures.{symbol}"
        if not isinstance(table, Mapping):
            raise ConfigError(f"`[{where}]` must be a table with `ratio` and `contracts`")
        entry = copy.deepcopy(base.get(symbol.upper(), {"ratio": 1.0, "contracts": {}}))
        for key, value in table.items():
            if key == "ratio":
                entry["ratio"] = _number(0.0, open_lo=True)(f"{where}.ratio", value)
            elif key == "contracts":
                if not isinstance(value, Mapping) or not value:
                    raise ConfigError(f"`{where}.contracts` must map futures names to multipliers")
                entry["contracts"] = {
                    str(n): _number(0.0, open_lo=True)(f"{where}.contracts.{n}", m)
                    for n, m in value.items()
                }
            else:
                raise ConfigError(f"unknown key `{where}.{key}` (known: ratio, contracts)")
        base[symbol.upper()] = entry


def _merge_feeds(base: dict[str, Any], user: Any) -> None:
    if not isinstance(user, Mapping):
        raise ConfigError("`[feeds]` must be a table of feed sections")
    for feed, table in user.items():
        if feed not in FEED_NAMES:
            raise ConfigError(
                f"unknown feed section `feeds.{feed}` (known: {', '.join(FEED_NAMES)})"
            )
        if not isinstance(table, Mapping):
            raise ConfigError(f"`[feeds.{feed}]` must be a table")
        # Keys are checked by the feed's from_config, which names them; types here stay TOML's.
        base[feed].update(dict(table))


def merge_config(user: Mapping[str, Any]) -> dict[str, Any]:
    """Validated defaults overlaid with a parsed TOML document."""
    merged = copy.deepcopy(DEFAULTS)
    for section, value in user.items():
        if section in SCHEMA:
            _merge_section(section, merged[section], value, SCHEMA[section])
        elif section == "futures":
            _merge_futures(merged["futures"], value)
        elif section == "feeds":
            _merge_feeds(merged["feeds"], value)
        elif section == "keymap":
            if not isinstance(value, Mapping) or not all(
                isinstance(v, str) for v in value.values()
            ):
                raise ConfigError("`[keymap]` must map binding ids to key strings")
            merged["keymap"] = dict(value)
        else:
            raise ConfigError(
                f"unknown section `[{section}]` (known: {', '.join([*SCHEMA, 'futures', 'feeds', 'keymap'])})"
            )
    return merged


def user_config_path() -> Path:
    from platformdirs import user_config_path as _ucp

    return _ucp(APP_NAME) / "config.toml"


def user_state_path() -> Path:
    from platformdirs import user_state_path as _usp

    return _usp(APP_NAME)


@dataclass(frozen=True)
class Settings:
    """The validated configuration and where it came from."""

    data: dict[str, Any]
    source: str

    @property
    def monitor(self) -> dict[str, Any]:
        monitor: dict[str, Any] = self.data["monitor"]
        return monitor

    def feed_section(self, name: str) -> dict[str, Any]:
        return dict(self.data["feeds"][name])

    def engine_config(self, symbol: str = "SPX") -> EngineConfig:
        e = self.data["engine"]
        fut = self.data["futures"].get(symbol.upper())
        futures = tuple(FuturesContract(n, m) for n, m in fut["contracts"].items()) if fut else ()
        first = futures[0] if futures else FuturesContract("ES", 50.0)
        return EngineConfig(
            model=EngineModel(e["model"]),
            positioning=PositioningModel(e["positioning"]) if e["positioning"] else None,
            rate=e["rate"],
            positions=PositionSource(self.monitor["positions"]),
            impulse=HedgeImpulseConfig(
                range_percent=e["range_percent"],
                step_percent=e["step_percent"],
                kernel_width_strikes=e["kernel_width_strikes"],
                skew_stickiness=e["skew_stickiness"],
                eps=e["eps"],
                asymmetry_percent=e["asymmetry_percent"],
            ),
            charm=CharmIntegralConfig(time_step_minutes=e["charm_step_minutes"]),
            cloud=PressureCloudConfig(
                contract_multiplier=first.multiplier,
                product=first.name,
                reachability_multiple=e["reachability_multiple"],
                zone_threshold=e["zone_threshold"],
                futures=futures,
                futures_ratio=fut["ratio"] if fut else 1.0,
            ),
        )


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """`path`, else the user config file if it exists, else the defaults."""
    if path is None:
        candidate = user_config_path()
        if not candidate.is_file():
            return Settings(copy.deepcopy(DEFAULTS), "built-in defaults")
        path = candidate
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config ({exc.strerror or exc})") from None
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    try:
        return Settings(merge_config(parsed), str(p))
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
