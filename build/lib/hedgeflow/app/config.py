"""Configuration: `--config FILE`, else the user config directory, else built-in defaults.

The defaults below are exactly what the documented `config.toml` at the
repository root says (a test checks it). Every key is validated here: an
unknown key or a bad value raises `ConfigError` naming the key, before anything
starts. Feed sections: their keys are checked against the feed (`hedgeflow.feeds.base.config_keys`)
for every section, used or not; their values by the feed's own `from_config` when the feed
is built, which also happens before the monitor starts. `load_settings` returns a typed,
read-only `Settings`.
"""

from __future__ import annotations

import copy
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hedgeflow.app.alert_rules import AlertRules
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.enums import EngineModel, PositioningModel, PositionSource
from hedgeflow.engine.expiry_scope import CYCLE, ExpiryScope, ScopeKind
from hedgeflow.engine.types import (
    CharmIntegralConfig,
    FuturesContract,
    HedgeImpulseConfig,
    PressureCloudConfig,
)
from hedgeflow.feeds.base import FEED_NAMES, config_keys

APP_NAME = "hedgeflow"
#: Seconds between polls: faster than 0.05 s only loads the machine (a poll of one symbol
#: and its analysis take longer), slower than a day is not monitoring.
MIN_INTERVAL = 0.05
MAX_INTERVAL = 86400.0


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
        "scope": "nearest",
        "scope_days": 7.0,
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
    "alerts": {
        "regime": True,
        "flip": True,
        "zone": True,
        "flip_margin_bp": 2.0,
        "regime_min_bands": 0.0,
        "cooldown_seconds": 300.0,
        "hook": [],
        "hook_timeout": 10.0,
        "webhook_url": "",
        "webhook_token_env": "",
        "webhook_timeout": 10.0,
        "webhook_attempts": 4,
        "queue_size": 100,
    },
    "keymap": {},
    "serve": {"host": "127.0.0.1", "port": 8000},
    "feeds": {
        "sim": {
            "seed": 7,
            "start": "auto",
            "speed": 1.0,
            "symbols": [],
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


def _host(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"`{key}` must be a host name or address, got {value!r}")
    return value.strip()


def _port(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"`{key}` must be a TCP port, 1 to 65535, got {value!r}")
    return value


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


def _argv(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(
            f"`{key}` must be a list of non-empty strings (the command and its arguments, "
            f'run without a shell), e.g. ["notify-send", "hedgeflow"], got {value!r}'
        )
    return list(value)


def _url(key: str, value: Any) -> str:
    if not isinstance(value, str) or (
        value and not (value.startswith(("http://", "https://")) and len(value) > 8)
    ):
        raise ConfigError(f'`{key}` must be "" or an http:// or https:// URL')
    return value


def _env_name(key: str, value: Any) -> str:
    if not isinstance(value, str) or (
        value and not (value.replace("_", "a").isalnum() and not value[0].isdigit())
    ):
        raise ConfigError(
            f"`{key}` must name an environment variable (letters, digits, _), got {value!r}"
        )
    return value


SCHEMA: dict[str, dict[str, Check]] = {
    "monitor": {
        "feed": _choice(*FEED_NAMES),
        "symbols": _symbols,
        "poll_interval": _number(MIN_INTERVAL, MAX_INTERVAL),
        "stale_after_polls": _integer(1),
        "bell": _boolean,
        "export_dir": _string,
        "log_file": _string,
        "positions": _choice(*(p.value for p in PositionSource)),
        "scope": _choice(*(k.value for k in CYCLE)),
        "scope_days": _number(0.0, 3660.0, open_lo=True),
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
    "serve": {"host": _host, "port": _port},
    "alerts": {
        "regime": _boolean,
        "flip": _boolean,
        "zone": _boolean,
        "flip_margin_bp": _number(0.0, 1000.0),
        "regime_min_bands": _number(0.0, 10.0),
        "cooldown_seconds": _number(0.0, 86400.0),
        "hook": _argv,
        "hook_timeout": _number(0.0, 600.0, open_lo=True),
        "webhook_url": _url,
        "webhook_token_env": _env_name,
        "webhook_timeout": _number(0.0, 600.0, open_lo=True),
        "webhook_attempts": _integer(1),
        "queue_size": _integer(1),
    },
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
        # Keys are checked here for every section, used or not; values by the feed's own
        # `from_config` when the feed is built. A documented key needs no look-up; any other
        # is asked of the feed class (importing it costs start-up time, so only then), which
        # takes the documented keys only unless it declares more.
        undocumented = [key for key in table if key not in base[feed]]
        if undocumented:
            known = config_keys(feed) or frozenset(base[feed])
            for key in undocumented:
                if key not in known:
                    raise ConfigError(
                        f"unknown key `feeds.{feed}.{key}` (known: {', '.join(sorted(known))})"
                    )
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
class MonitorSettings:
    """`[monitor]`: what the monitor watches and how often."""

    feed: str
    symbols: tuple[str, ...]
    #: Seconds between polls of one symbol, in [MIN_INTERVAL, MAX_INTERVAL].
    poll_interval: float
    stale_after_polls: int
    bell: bool
    #: "" = the user documents directory.
    export_dir: str
    #: "" = hedgeflow.log in the user state directory.
    log_file: str
    positions: PositionSource
    #: The expiry scope the monitor starts in (`scope` key cycles it) and the N of
    #: "within N days", calendar days.
    scope: ScopeKind = ScopeKind.NEAREST
    scope_days: float = 7.0

    def expiry_scope(self) -> ExpiryScope:
        """The configured starting scope."""
        return ExpiryScope(self.scope, self.scope_days)


@dataclass(frozen=True)
class EngineDefaults:
    """`[engine]`: the engine configuration every symbol starts from (units as config.toml)."""

    model: EngineModel
    #: None = the model's own default.
    positioning: PositioningModel | None
    rate: float
    skew_stickiness: float
    range_percent: float
    step_percent: float
    kernel_width_strikes: float
    eps: float
    asymmetry_percent: float
    charm_step_minutes: float
    reachability_multiple: float
    zone_threshold: float


@dataclass(frozen=True)
class FuturesSettings:
    """`[futures.<SYMBOL>]`: hedge instruments ($ per index point) and the futures points per
    underlying point used when no live futures price is known."""

    ratio: float
    contracts: tuple[FuturesContract, ...]


@dataclass(frozen=True)
class ColorSettings:
    """`[colors]`: Textual color names or hex (checked by the monitor's palette)."""

    stable: str
    unstable: str
    spot: str
    repriced: str
    stale: str


@dataclass(frozen=True)
class ServeSettings:
    """`[serve]`: where `hedgeflow serve` listens (its --host and --port defaults)."""

    host: str = "127.0.0.1"
    port: int = 8000


@dataclass(frozen=True)
class AlertSettings:
    """`[alerts]`: which alerts, their thresholds, and delivery (docs/METHOD.md "Alerts").

    rules : switches, thresholds and cooldown (`hedgeflow.app.alerts.AlertRules`)
    hook : argv run without a shell with the alert JSON on stdin; () = none
    hook_timeout / webhook_timeout : seconds per run / per request
    webhook_url : "" = none; webhook_token_env : the environment variable holding a bearer
        token ("" = none; the token itself is never in the config)
    webhook_attempts : requests per alert; queue_size : alerts waiting per channel
    """

    rules: AlertRules = AlertRules()
    hook: tuple[str, ...] = ()
    hook_timeout: float = 10.0
    webhook_url: str = ""
    webhook_token_env: str = ""
    webhook_timeout: float = 10.0
    webhook_attempts: int = 4
    queue_size: int = 100

    @classmethod
    def from_table(cls, t: Mapping[str, Any]) -> AlertSettings:
        return cls(
            rules=AlertRules(
                regime=bool(t["regime"]),
                flip=bool(t["flip"]),
                zone=bool(t["zone"]),
                flip_margin_bp=float(t["flip_margin_bp"]),
                regime_min_bands=float(t["regime_min_bands"]),
                cooldown_seconds=float(t["cooldown_seconds"]),
            ),
            hook=tuple(t["hook"]),
            hook_timeout=float(t["hook_timeout"]),
            webhook_url=str(t["webhook_url"]),
            webhook_token_env=str(t["webhook_token_env"]),
            webhook_timeout=float(t["webhook_timeout"]),
            webhook_attempts=int(t["webhook_attempts"]),
            queue_size=int(t["queue_size"]),
        )


@dataclass(frozen=True)
class Settings:
    """The validated configuration and where it came from. Built once by `load_settings`
    (or `default_settings`); read-only afterwards."""

    monitor: MonitorSettings
    engine: EngineDefaults
    futures: Mapping[str, FuturesSettings]
    colors: ColorSettings
    #: binding id -> keys, e.g. {"next-expiry": "n"}.
    keymap: Mapping[str, str]
    #: feed name -> its `[feeds.<name>]` table (keys checked against the feed; values are
    #: checked by the feed's own `from_config` when it is built).
    feeds: Mapping[str, Mapping[str, Any]]
    source: str
    serve: ServeSettings = ServeSettings()
    alerts: AlertSettings = AlertSettings()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str) -> Settings:
        """From a validated, merged document (`merge_config` or `DEFAULTS`)."""
        m, e = data["monitor"], data["engine"]
        return cls(
            monitor=MonitorSettings(
                feed=m["feed"],
                symbols=tuple(m["symbols"]),
                poll_interval=float(m["poll_interval"]),
                stale_after_polls=int(m["stale_after_polls"]),
                bell=bool(m["bell"]),
                export_dir=m["export_dir"],
                log_file=m["log_file"],
                positions=PositionSource(m["positions"]),
                scope=ScopeKind(m["scope"]),
                scope_days=float(m["scope_days"]),
            ),
            engine=EngineDefaults(
                model=EngineModel(e["model"]),
                positioning=PositioningModel(e["positioning"]) if e["positioning"] else None,
                **{k: float(e[k]) for k in _ENGINE_NUMBERS},
            ),
            futures=MappingProxyType(
                {
                    sym: FuturesSettings(
                        ratio=float(f["ratio"]),
                        contracts=tuple(
                            FuturesContract(n, float(x)) for n, x in f["contracts"].items()
                        ),
                    )
                    for sym, f in data["futures"].items()
                }
            ),
            colors=ColorSettings(**data["colors"]),
            keymap=MappingProxyType(dict(data["keymap"])),
            feeds=MappingProxyType(
                {name: MappingProxyType(copy.deepcopy(t)) for name, t in data["feeds"].items()}
            ),
            source=source,
            serve=ServeSettings(**data["serve"]),
            alerts=AlertSettings.from_table(data["alerts"]),
        )

    def feed_section(self, name: str) -> dict[str, Any]:
        """A fresh copy of `[feeds.<name>]`, to hand to the feed's `from_config`."""
        return copy.deepcopy(dict(self.feeds[name]))

    def engine_config(self, symbol: str = "SPX") -> EngineConfig:
        """The engine configuration of `symbol`: `[engine]` with its futures mapping."""
        e = self.engine
        fut = self.futures.get(symbol.upper())
        futures = fut.contracts if fut else ()
        first = futures[0] if futures else FuturesContract("ES", 50.0)
        return EngineConfig(
            model=e.model,
            positioning=e.positioning,
            rate=e.rate,
            positions=self.monitor.positions,
            impulse=HedgeImpulseConfig(
                range_percent=e.range_percent,
                step_percent=e.step_percent,
                kernel_width_strikes=e.kernel_width_strikes,
                skew_stickiness=e.skew_stickiness,
                eps=e.eps,
                asymmetry_percent=e.asymmetry_percent,
            ),
            charm=CharmIntegralConfig(time_step_minutes=e.charm_step_minutes),
            cloud=PressureCloudConfig(
                contract_multiplier=first.multiplier,
                product=first.name,
                reachability_multiple=e.reachability_multiple,
                zone_threshold=e.zone_threshold,
                futures=futures,
                futures_ratio=fut.ratio if fut else 1.0,
            ),
        )


_ENGINE_NUMBERS = tuple(k for k in DEFAULTS["engine"] if k not in ("model", "positioning"))


def default_settings() -> Settings:
    """The built-in defaults (exactly the documented config.toml)."""
    return Settings.from_mapping(DEFAULTS, "built-in defaults")


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """`path`, else the user config file if it exists, else the defaults."""
    if path is None:
        candidate = user_config_path()
        if not candidate.is_file():
            return default_settings()
        path = candidate
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{p}: not UTF-8 text (line {line}); save the config as UTF-8") from None
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    try:
        return Settings.from_mapping(merge_config(parsed), str(p))
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
