"""Tradier brokerage market data (token in an environment variable).

Requests (FEEDS.md section 2), all with `Authorization: Bearer <token>` and
`Accept: application/json` (Tradier's default is XML):

    GET /markets/quotes?symbols=SPX&greeks=false                 -> spot (the chain has none)
    GET /markets/options/expirations?symbol=SPX&includeAllRoots=true&strikes=false
                                                                 -> dates (SPXW needs includeAllRoots)
    GET /markets/options/chains?symbol=SPX&expiration=YYYY-MM-DD&greeks=true
                                                                 -> one chain per expiration

Quirks handled by the parser: `quotes.quote` and `options.option` are an object for one
item and a list for several, `options` is null for none, `expirations.date` is a bare
string for one date; IV lives only in `greeks` (decimal; `mid_iv` is 0.0 on illiquid rows,
then `smv_vol` is used), `greeks` may be null; `trade_date`/`bid_date`/`ask_date` are epoch
ms with 0 = none; `root_symbol` separates SPX (AM) from SPXW (PM).

as_of is the newest quote time of the OPTIONS (their bid/ask/trade dates), capped at `now`;
the underlying's dates only when no option carries one; without any, `now - delay_seconds`.
After the close the underlying quote runs on in extended hours: a print after the regular
close of the options' session is labelled, and the quote's `close` (the day's regular
close) is spot when present (`hedgeflow.feeds.quote_time`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np

from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.clock import NY
from hedgeflow.feeds.errors import BadPayload, FeedError
from hedgeflow.feeds.http import HttpFeedBase, HttpSettings, env_var_key, int_key
from hedgeflow.feeds.normalize import (
    as_float_array,
    assemble_chain,
    check_underlying,
    expirations_from_dates,
    first_positive,
    ms_to_epoch,
    parse_occ,
    plain_symbol,
    settlement,
    spot_note_for,
    to_dates,
)
from hedgeflow.feeds.quote_time import after_hours_note, after_hours_print, chain_as_of
from hedgeflow.feeds.secrets import Secret, secret_from_env

VENDOR = "tradier"
PRODUCTION_URL = "https://api.tradier.com/v1"
SANDBOX_URL = "https://sandbox.tradier.com/v1"
DEFAULT_TOKEN_ENV = "TRADIER_TOKEN"


def _items(container: Any, key: str, what: str) -> list[Any]:
    """`container[key]` as a list: object -> [object], list -> list, null/"" -> []."""
    if container is None or container == "" or container == "null":
        return []
    if not isinstance(container, Mapping):
        raise BadPayload(f"`{what}` is not an object", vendor=VENDOR)
    value = container.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def parse_tradier_expirations(payload: Any) -> list[date]:
    """Dates from /markets/options/expirations, ascending; bare string, list or
    `expiration` objects accepted; `{"expirations": null}` -> []."""
    if not isinstance(payload, Mapping) or "expirations" not in payload:
        raise BadPayload("expirations response lacks `expirations`", vendor=VENDOR)
    exp = payload["expirations"]
    raw = _items(exp, "date", "expirations")
    if not raw and isinstance(exp, Mapping):
        raw = [
            e.get("date")
            for e in _items(exp, "expiration", "expirations")
            if isinstance(e, Mapping)
        ]
    days = to_dates(raw)
    return sorted({d.astype(object) for d in days[~np.isnat(days)]})


def _pick_quote(quote_payload: Any, symbol: str | None) -> Mapping[str, Any] | None:
    """The quote of `symbol` (default the first); WrongSymbol when the response quotes only
    other symbols, None when it quotes none."""
    if not isinstance(quote_payload, Mapping) or "quotes" not in quote_payload:
        raise BadPayload("quotes response lacks `quotes`", vendor=VENDOR)
    quotes = [
        q for q in _items(quote_payload["quotes"], "quote", "quotes") if isinstance(q, Mapping)
    ]
    if symbol is not None:
        want = plain_symbol(symbol)
        for q in quotes:
            if plain_symbol(str(q.get("symbol", ""))) == want:
                return q
        if quotes:
            check_underlying(want, [q.get("symbol") for q in quotes], np.array([]), vendor=VENDOR)
        return None
    return quotes[0] if quotes else None


def _spot(quote: Mapping[str, Any] | None) -> tuple[float, str]:
    if quote is None:
        return float("nan"), "missing"
    last, bid, ask, prev = as_float_array(
        [quote.get("last"), quote.get("bid"), quote.get("ask"), quote.get("prevclose")]
    )
    if np.isfinite(last) and last > 0:
        return float(last), ""
    if np.isfinite(bid) and np.isfinite(ask) and 0 < bid <= ask:
        return float(0.5 * (bid + ask)), "derived (bid/ask mid)"
    if np.isfinite(prev) and prev > 0:
        return float(prev), "stale (previous close)"
    return float("nan"), "missing"


def parse_tradier_chain(
    quote_payload: Any,
    chain_payloads: Sequence[Any],
    *,
    now: datetime,
    symbol: str | None = None,
    delay_seconds: float = 0.0,
    source: str = VENDOR,
) -> OptionChain:
    """Normalize Tradier quote + chain responses into one `OptionChain`.

    Parameters
    ----------
    quote_payload : /markets/quotes response (the underlying's quote gives spot).
    chain_payloads : /markets/options/chains responses, one per expiration.
    now : aware fetch time; caps as_of (see module docstring).
    symbol : the requested underlying ("SPX"); a quote or option row naming another
        underlying (`symbol`, `underlying`; without either, the option roots) is refused
        with WrongSymbol. Default: the quote's symbol.
    delay_seconds : the account's quote delay (sandbox 900).

    Raises
    ------
    BadPayload when a response is not the documented shape (not an object, no `quotes`,
    no `options`, a row that is not an object is only counted as `bad_row`).
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    quote = _pick_quote(quote_payload, symbol)
    if symbol is None:
        symbol = str(quote.get("symbol", "")).upper() if quote is not None else ""
    spot, spot_note = _spot(quote)

    counts: Counter[str] = Counter()
    rows: list[Mapping[str, Any]] = []
    for i, payload in enumerate(chain_payloads):
        if not isinstance(payload, Mapping) or "options" not in payload:
            raise BadPayload(f"chain response #{i + 1} lacks `options`", vendor=VENDOR)
        for r in _items(payload["options"], "option", "options"):
            if isinstance(r, Mapping):
                rows.append(r)
            else:
                counts["bad_row"] += 1

    def col(key: str) -> np.ndarray:
        return as_float_array([r.get(key) for r in rows], counts)

    def greek(key: str) -> np.ndarray:
        return as_float_array(
            [g.get(key) if isinstance(g := r.get("greeks"), Mapping) else None for r in rows],
            counts,
        )

    # Contract identity from the explicit fields, the OCC symbol filling gaps.
    occ_root, occ_date, occ_call, occ_strike = parse_occ([r.get("symbol") for r in rows])
    root = (
        np.array(
            [str(r.get("root_symbol") or "").strip().upper() for r in rows], dtype=object
        ).astype(str)
        if rows
        else np.array([], dtype=str)
    )
    root = np.where(root == "", occ_root, root)
    dates = to_dates([r.get("expiration_date") for r in rows])
    dates = np.where(np.isnat(dates), occ_date, dates)
    strike = col("strike")
    strike = np.where(np.isfinite(strike), strike, occ_strike)
    kind = [str(r.get("option_type") or "").lower() for r in rows]
    is_call = np.array(
        [
            k == "call" if k in ("call", "put") else bool(c)
            for k, c in zip(kind, occ_call, strict=True)
        ],
        dtype=bool,
    )
    bad_type = np.array(
        [k not in ("call", "put") and o == "" for k, o in zip(kind, occ_root, strict=True)],
        dtype=bool,
    )
    root = np.where(bad_type, "", root)  # neither field says call or put: unplaceable
    named = {u for r in rows if isinstance(u := r.get("underlying"), str)}
    check_underlying(symbol, named, root, vendor=VENDOR)

    mid_iv, smv = greek("mid_iv"), greek("smv_vol")
    with np.errstate(invalid="ignore"):
        iv = np.where(mid_iv > 0, mid_iv, np.where(smv > 0, smv, np.nan))

    times = [ms_to_epoch(col(k)) for k in ("bid_date", "ask_date", "trade_date")]
    und_t = ms_to_epoch(
        as_float_array(
            [quote.get(k) for k in ("bid_date", "ask_date", "trade_date")]
            if quote is not None
            else []
        )
    )
    # the options' own clock: after the close the underlying quotes on in extended hours
    as_of = chain_as_of(np.concatenate(times), und_t, now, delay_seconds)
    printed = (
        after_hours_print(und_t[2], und_t[:2], as_of)
        if quote is not None and not spot_note
        else None
    )
    if printed is not None:
        assert quote is not None
        # `close` is the day's regular close (null during the session): the price the
        # options were quoted against; the after-hours `last` is only named
        close = first_positive([quote.get("close")])
        if np.isfinite(close):
            spot_note = after_hours_note(printed, as_of, close=close, price=spot)
            spot = close
        else:
            spot_note = after_hours_note(printed, as_of)
    if not spot_note:
        spot_note = spot_note_for(as_of)

    contract_size = col("contract_size")
    return assemble_chain(
        symbol=symbol,
        spot=spot,
        as_of=as_of,
        root=root,
        expiry=settlement(root, dates),
        listed=dates,
        strike=strike,
        is_call=is_call,
        bid=col("bid"),
        ask=col("ask"),
        last=col("last"),
        last_trade_time=times[2],
        volume=col("volume"),
        open_interest=col("open_interest"),
        vendor_iv=iv,
        multiplier=np.where(np.isnan(contract_size), 100.0, contract_size),
        counts=counts,
        source=source,
        delay_seconds=delay_seconds,
        spot_note=spot_note,
    )


class TradierFeed(HttpFeedBase):
    """Tradier over HTTP. Config keys: `token_env` (name of the env var holding the token,
    default TRADIER_TOKEN), `sandbox` (bool, default false: sandbox base URL and 900 s
    delay), `max_expirations` (chains fetched per snapshot, nearest first, default 3),
    `delay_seconds`, plus the common HTTP keys (`base_url`, timeouts, retries)."""

    name = VENDOR
    vendor = VENDOR
    default_base_url = PRODUCTION_URL
    config_keys = frozenset({"token_env", "sandbox", "max_expirations", "delay_seconds"})

    def __init__(
        self,
        settings: HttpSettings,
        *,
        token_env: str = DEFAULT_TOKEN_ENV,
        max_expirations: int = 3,
        delay_seconds: float = 0.0,
        **kw: Any,
    ) -> None:
        super().__init__(settings, **kw)
        self.token_env = token_env
        self.max_expirations = max_expirations
        self.delay_seconds = delay_seconds
        self._token: Secret | None = None

    def __repr__(self) -> str:
        return f"TradierFeed(base_url={self.settings.base_url!r}, token=***)"

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> TradierFeed:
        sandbox = section.get("sandbox", False)
        if not isinstance(sandbox, bool):
            raise ValueError("config key `sandbox` must be true or false")
        default_url = SANDBOX_URL if sandbox else PRODUCTION_URL
        settings = HttpSettings.from_config(section, cls.config_keys, default_url)
        token_env = env_var_key(section, "token_env", DEFAULT_TOKEN_ENV)
        max_exp = int_key(section, "max_expirations", 3, 1, 50)
        delay = section.get("delay_seconds", 900.0 if sandbox else 0.0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ValueError("config key `delay_seconds` must be a number >= 0")
        return cls(
            settings, token_env=token_env, max_expirations=max_exp, delay_seconds=float(delay)
        )

    def check_credentials(self) -> None:
        self._token_secret()

    def _token_secret(self) -> Secret:
        if self._token is None:
            self._token = secret_from_env(
                self.token_env, vendor=VENDOR, what="the Tradier API token"
            )
        return self._token

    async def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token_secret().reveal()}"}

    def _auth_error(self, status: int) -> tuple[str, str | None]:
        if status == 401:
            msg = (
                f"the token was rejected: put a valid (unexpired) token in the environment "
                f"variable {self.token_env}; sandbox and production tokens differ"
            )
        else:
            msg = (
                f"the token in {self.token_env} is not entitled to this data "
                "(market data needs a funded account or the sandbox base URL)"
            )
        return msg, self.token_env

    async def _expiration_dates(self, symbol: str) -> list[date]:
        payload = await self.get_json(
            "/markets/options/expirations",
            {"symbol": symbol, "includeAllRoots": "true", "strikes": "false"},
        )
        return await self._parse(parse_tradier_expirations, payload)

    async def snapshot(self, symbol: str) -> OptionChain:
        sym = plain_symbol(symbol)
        quote = await self.get_json("/markets/quotes", {"symbols": sym, "greeks": "false"})
        today = self.clock().astimezone(NY).date()
        dates = [d for d in await self._expiration_dates(sym) if d >= today]
        dates = dates[: self.max_expirations]
        results = await asyncio.gather(
            *(
                self.get_json(
                    "/markets/options/chains",
                    {"symbol": sym, "expiration": d.isoformat(), "greeks": "true"},
                )
                for d in dates
            ),
            return_exceptions=True,
        )
        for r in results:
            if isinstance(r, FeedError):
                raise r
            if isinstance(r, BaseException):
                raise r
        return await self._parse(
            parse_tradier_chain,
            quote,
            results,
            now=self.clock(),
            symbol=sym,
            delay_seconds=self.delay_seconds,
        )

    async def expirations(self, symbol: str) -> list[datetime]:
        sym = plain_symbol(symbol)
        now = self.clock()
        dates = await self._expiration_dates(sym)
        return [e for e in await self._parse(expirations_from_dates, sym, dates) if e > now]
