"""Schwab Trader API market data, OAuth with a refresh token from the environment.

Requests (FEEDS.md section 3), base `https://api.schwabapi.com/marketdata/v1` (no sandbox):

    GET /chains?symbol=$SPX&contractType=ALL&includeUnderlyingQuote=true&strategy=SINGLE
               &fromDate=YYYY-MM-DD&toDate=YYYY-MM-DD[&strikeCount=N]
    GET /expirationchain?symbol=$SPX

Auth: environment variables `SCHWAB_APP_KEY`, `SCHWAB_APP_SECRET`, `SCHWAB_REFRESH_TOKEN`
(the config may rename the variables, never hold values). The 30-minute access token is
obtained from the refresh token (POST form `grant_type=refresh_token`, HTTP Basic
app_key:app_secret, to `token_url`) under an `asyncio.Lock`, double-checked, refreshed
60 s before it expires. Schwab rejects a refresh token about 7 days after the interactive
login; that is a `FeedAuthError` telling the user to log in again.

Payload quirks handled by `parse_schwab_chain`: `callExpDateMap`/`putExpDateMap` keyed
"YYYY-MM-DD:DTE" then strike string -> list of contracts; prices as `bid/ask/last/mark`
(what real bodies carry; the OpenAPI spec's `bidPrice/askPrice/...` do not occur and are
not read); `volatility` in PERCENT (-> decimal) with -999 or NaN as "missing";
`optionRoot` SPX vs SPXW; times in epoch ms; index symbols with a `$` prefix.

as_of is the newest `quoteTimeInLong`/`tradeTimeInLong` of the OPTIONS, capped at `now`
(the underlying's `quoteTime`/`tradeTime` only when no option has a time; without any,
`now - delay_seconds`, 900 when the payload says `isDelayed`). After the close the
underlying quote runs on in extended hours (AAPL quoted 19:59:59, its options 15:59:59):
spot stays that print (the chain's `underlying.close` is the PREVIOUS session's close), with
the spot note "after-hours print at HH:MM ET, options quoted HH:MM ET"
(`hedgeflow.feeds.quote_time`). No price at all: spot NaN, note "missing".

What Schwab says about its own data: a response with `isChainTruncated: true`, or a 502
whose body names the gateway's `TooBigBody` (`ChainTooBig`), holds less than was asked
for. The feed then asks for less at a time (`SchwabFeed._fetch_window`): the date window
halved until one day, then one day's calls and puts apart, then, for a side still refused
as too big, fewer strikes around the money (`strikeCount`); the parts are merged
(`schwab_parts.merge_chain_payloads`). Whatever it still could not get is a chain note
naming the days and sides, which the analysis shows first (status line, `analyze`, JSON).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import numpy as np

from hedgeflow.engine.chain import OptionChain
from hedgeflow.engine.clock import NY
from hedgeflow.feeds.errors import BadPayload, ChainTooBig, FeedAuthError, FeedError
from hedgeflow.feeds.http import (
    Body,
    HttpFeedBase,
    HttpSettings,
    decode_json,
    env_var_key,
    int_key,
)
from hedgeflow.feeds.normalize import (
    INDEX_SYMBOLS,
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
from hedgeflow.feeds.schwab_parts import (
    MAX_CHAIN_REQUESTS,
    NARROW_STRIKES,
    Budget,
    count_contracts,
    is_truncated,
    merge_chain_payloads,
    window_words,
)
from hedgeflow.feeds.secrets import Secret, secret_from_env

VENDOR = "schwab"
BASE_URL = "https://api.schwabapi.com/marketdata/v1"
TOKEN_URL = "https://api.schwabapi.com/v1/oauth/token"
DEFAULT_ENV = {
    "app_key_env": "SCHWAB_APP_KEY",
    "app_secret_env": "SCHWAB_APP_SECRET",
    "refresh_token_env": "SCHWAB_REFRESH_TOKEN",
}
#: Refresh the access token this many seconds before it expires.
TOKEN_MARGIN = 60.0
#: Schwab's missing-value sentinel for greeks and volatility.
SENTINEL = -999.0


def schwab_symbol(symbol: str) -> str:
    """Schwab's name for an underlying: indexes take "$" ("SPX" -> "$SPX")."""
    sym = plain_symbol(symbol)
    return f"${sym}" if sym in INDEX_SYMBOLS else sym


def parse_schwab_chain(
    payload: Any,
    *,
    now: datetime,
    symbol: str | None = None,
    source: str = VENDOR,
    truncation_notes: Sequence[str] | None = None,
) -> OptionChain:
    """Normalize one Schwab /chains response.

    Parameters
    ----------
    payload : the decoded JSON object.
    now : aware fetch time; caps as_of (see module docstring).
    symbol : the requested underlying ("SPX"); a payload naming another one (`symbol`,
        `underlying.symbol`; without either, its option roots) is refused with WrongSymbol.
        Default: the payload's `symbol` without "$".
    truncation_notes : what the feed could not fetch of a chain Schwab truncated (the chain's
        notes); None: a note when the payload's `isChainTruncated` is true.

    Raises
    ------
    BadPayload when the response is not a chain: not an object, `status` other than
    SUCCESS, neither `callExpDateMap` nor `putExpDateMap`, or a map that is not an object.
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    if not isinstance(payload, Mapping):
        raise BadPayload(f"expected a JSON object, got {type(payload).__name__}", vendor=VENDOR)
    status = payload.get("status")
    if status is not None and str(status).upper() != "SUCCESS":
        raise BadPayload(f"chain `status` is {str(status)[:40]!r} (unknown symbol?)", vendor=VENDOR)
    maps = {k: payload.get(k) for k in ("callExpDateMap", "putExpDateMap")}
    if all(m is None for m in maps.values()):
        raise BadPayload("neither `callExpDateMap` nor `putExpDateMap` present", vendor=VENDOR)
    for key, m in maps.items():
        if m is not None and not isinstance(m, Mapping):
            raise BadPayload(f"`{key}` is not an object", vendor=VENDOR)

    counts: Counter[str] = Counter()
    rows: list[Mapping[str, Any]] = []
    map_date: list[str] = []
    map_strike: list[str] = []
    map_call: list[bool] = []
    for key, m in maps.items():
        for exp_key, strikes in (m or {}).items():
            if not isinstance(strikes, Mapping):
                counts["bad_row"] += 1
                continue
            day = str(exp_key).split(":", 1)[0]
            for strike_key, contracts in strikes.items():
                items = contracts if isinstance(contracts, list) else [contracts]
                for c in items:
                    if not isinstance(c, Mapping):
                        counts["bad_row"] += 1
                        continue
                    rows.append(c)
                    map_date.append(day)
                    map_strike.append(strike_key)
                    map_call.append(key == "callExpDateMap")

    def col(key: str) -> np.ndarray:
        return as_float_array([c.get(key) for c in rows], counts)

    occ_root, occ_date, _, occ_strike = parse_occ([c.get("symbol") for c in rows])
    und_sym = str(payload.get("symbol") or "").strip().upper().lstrip("$")
    if symbol is None:
        symbol = und_sym
    roots = [str(c.get("optionRoot") or "").strip().upper() for c in rows]
    root = np.array(roots, dtype=str) if rows else np.array([], dtype=str)
    root = np.where(root == "", occ_root, root)
    if und_sym.isalpha():
        # Last resort for rows with neither optionRoot nor a parseable symbol.
        root = np.where(root == "", und_sym, root)
    und = payload.get("underlying")
    und = und if isinstance(und, Mapping) else {}
    check_underlying(symbol, [payload.get("symbol"), und.get("symbol")], root, vendor=VENDOR)
    dates = to_dates(map_date)
    dates = np.where(np.isnat(dates), occ_date, dates)
    strike = col("strikePrice")
    strike = np.where(np.isfinite(strike), strike, as_float_array(map_strike, counts))
    strike = np.where(np.isfinite(strike), strike, occ_strike)
    put_call = [str(c.get("putCall") or "").upper() for c in rows]
    is_call = np.array(
        [
            pc == "CALL" if pc in ("CALL", "PUT") else mc
            for pc, mc in zip(put_call, map_call, strict=True)
        ],
        dtype=bool,
    )

    vol = col("volatility")
    with np.errstate(invalid="ignore"):
        iv = np.where(np.isfinite(vol) & (vol > SENTINEL + 0.5) & (vol > 0), vol / 100.0, np.nan)

    quote_t = ms_to_epoch(col("quoteTimeInLong"))
    trade_t = ms_to_epoch(col("tradeTimeInLong"))
    und_t = ms_to_epoch(as_float_array([und.get("quoteTime"), und.get("tradeTime")]))
    delayed = bool(payload.get("isDelayed")) or bool(und.get("delayed"))
    delay = 900.0 if delayed else 0.0
    # the options' own clock: after the close the underlying quotes on in extended hours
    as_of = chain_as_of(np.concatenate([quote_t, trade_t]), und_t, now, delay)

    spot = first_positive([payload.get("underlyingPrice"), und.get("last"), und.get("mark")])
    spot_note = spot_note_for(as_of)
    if not np.isfinite(spot):
        # `close` is the previous session's close (`change` = last - close)
        spot = first_positive([und.get("close")])
        spot_note = "stale (previous close)" if np.isfinite(spot) else "missing"
    elif (printed := after_hours_print(und_t[1], und_t[:1], as_of)) is not None:
        spot_note = after_hours_note(printed, as_of)

    if truncation_notes is None:
        truncation_notes = (
            ["Schwab truncated this chain (isChainTruncated): contracts are missing"]
            if payload.get("isChainTruncated") is True
            else []
        )
    mult = col("multiplier")
    chain = assemble_chain(
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
        last_trade_time=trade_t,
        volume=col("totalVolume"),
        open_interest=col("openInterest"),
        vendor_iv=iv,
        multiplier=np.where(np.isnan(mult), 100.0, mult),
        counts=counts,
        source=source,
        delay_seconds=delay,
        spot_note=spot_note,
    )
    return replace(chain, notes=(*chain.notes, *truncation_notes)) if truncation_notes else chain


def parse_schwab_expirations(payload: Any) -> list[date]:
    """Dates from /expirationchain (`expirationList[].expirationDate`), ascending."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("expirationList"), list):
        raise BadPayload("expiration chain lacks an `expirationList` list", vendor=VENDOR)
    raw = [e.get("expirationDate") for e in payload["expirationList"] if isinstance(e, Mapping)]
    days = to_dates(raw)
    return sorted({d.astype(object) for d in days[~np.isnat(days)]})


class SchwabFeed(HttpFeedBase):
    """Schwab over HTTP with OAuth refresh. Config keys: `app_key_env`, `app_secret_env`,
    `refresh_token_env` (names of environment variables), `token_url`, `max_days` (chain
    window from today, default 7), `strike_count` (strikes around the money, default all),
    plus the common HTTP keys."""

    name = VENDOR
    vendor = VENDOR
    delay_seconds = 0.0
    default_base_url = BASE_URL
    config_keys = frozenset({*DEFAULT_ENV, "token_url", "max_days", "strike_count"})

    def __init__(
        self,
        settings: HttpSettings,
        *,
        token_url: str = TOKEN_URL,
        env: Mapping[str, str] | None = None,
        max_days: int = 7,
        strike_count: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(settings, **kw)
        self.token_url = token_url
        self.env = {**DEFAULT_ENV, **(env or {})}
        self.max_days = max_days
        self.strike_count = strike_count
        self._lock = asyncio.Lock()
        self._access: Secret | None = None
        self._expires_at = 0.0  # time.monotonic() seconds
        self._refresh_token: Secret | None = None
        #: Number of token refreshes performed (the monitor may show it; tests check it).
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"SchwabFeed(base_url={self.settings.base_url!r}, app_key=***, tokens=***)"

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> SchwabFeed:
        settings = HttpSettings.from_config(section, cls.config_keys, BASE_URL)
        env = {key: env_var_key(section, key, default) for key, default in DEFAULT_ENV.items()}
        token_url = section.get("token_url", TOKEN_URL)
        probe = HttpSettings.from_config({"base_url": token_url}, frozenset(), TOKEN_URL)
        max_days = int_key(section, "max_days", 7, 0, 400)
        strikes = section.get("strike_count")
        if strikes is not None and (
            isinstance(strikes, bool) or not isinstance(strikes, int) or strikes < 1
        ):
            raise ValueError("config key `strike_count` must be a positive integer")
        return cls(
            settings,
            token_url=probe.base_url,
            env=env,
            max_days=max_days,
            strike_count=strikes,
        )

    # --- OAuth ----------------------------------------------------------------------------

    def _token_fresh(self) -> bool:
        return self._access is not None and time.monotonic() < self._expires_at - TOKEN_MARGIN

    async def access_token(self) -> Secret:
        """A valid access token, refreshed under the lock when missing or within 60 s of
        expiry (double-checked: concurrent callers wait for one refresh)."""
        if not self._token_fresh():
            async with self._lock:
                if not self._token_fresh():
                    await self._refresh()
        assert self._access is not None
        return self._access

    def check_credentials(self) -> None:
        self._app_credentials()
        self._refresh_secret()

    def _app_credentials(self) -> tuple[Secret, Secret]:
        """The app key and secret, read from the environment at every refresh."""
        key = secret_from_env(self.env["app_key_env"], vendor=VENDOR, what="the Schwab app key")
        secret = secret_from_env(
            self.env["app_secret_env"], vendor=VENDOR, what="the Schwab app secret"
        )
        return key, secret

    def _refresh_secret(self) -> Secret:
        """The refresh token: the environment's, until the vendor rotates it."""
        if self._refresh_token is None:
            self._refresh_token = secret_from_env(
                self.env["refresh_token_env"], vendor=VENDOR, what="the Schwab refresh token"
            )
        return self._refresh_token

    async def _refresh(self) -> None:
        key, secret = self._app_credentials()
        refresh = self._refresh_secret()
        response = await self._send(
            "POST",
            self.token_url,
            data={"grant_type": "refresh_token", "refresh_token": refresh.reveal()},
            auth=httpx.BasicAuth(key.reveal(), secret.reveal()),
            authorize=False,
            passthrough=frozenset({400, 401, 403}),
        )
        if response.status_code >= 400:
            self._raise_token_error(response)
        body = decode_json(response, vendor=VENDOR)
        token = body.get("access_token") if isinstance(body, Mapping) else None
        if not isinstance(token, str) or not token:
            raise BadPayload("token response lacks `access_token`", vendor=VENDOR)
        try:
            lifetime = float(body.get("expires_in", 1800))
        except (TypeError, ValueError):
            lifetime = 1800.0
        self._access = Secret(token, "schwab access token")
        self._expires_at = time.monotonic() + max(lifetime, 0.0)
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh.reveal():
            # Kept in memory only; the user's environment keeps the login's token.
            self._refresh_token = Secret(rotated, self.env["refresh_token_env"])
        self.refresh_count += 1

    def _raise_token_error(self, response: Body) -> None:
        code = ""
        try:
            body = json.loads(response.content)
            if isinstance(body, Mapping):
                code = str(body.get("error") or "")[:60]
        except ValueError:
            pass
        kw: dict[str, Any] = {"vendor": VENDOR, "status": response.status_code}
        if code in ("invalid_client", "unauthorized_client"):
            raise FeedAuthError(
                f"Schwab rejected the app credentials ({code}): check "
                f"{self.env['app_key_env']} and {self.env['app_secret_env']}",
                env_var=self.env["app_key_env"],
                **kw,
            )
        var = self.env["refresh_token_env"]
        raise FeedAuthError(
            "Schwab rejected the refresh token"
            + (f" ({code})" if code else "")
            + ": it expires about 7 days after the interactive login (or was revoked). "
            f"Log in again through the Schwab OAuth flow and put the new refresh token in {var}",
            env_var=var,
            **kw,
        )

    async def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {(await self.access_token()).reveal()}"}

    async def _on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        # The access token died early (revoked, clock skew): force one refresh and retry.
        # Only drop it if it is the token that failed: concurrent requests that failed with
        # the same token must not throw away the one a sibling just refreshed.
        async with self._lock:
            current = self._access
            if current is not None and sent.get("Authorization") == f"Bearer {current.reveal()}":
                self._access = None
                self._expires_at = 0.0
        return True

    def _auth_error(self, status: int) -> tuple[str, str | None]:
        if status == 401:
            return (
                "Schwab rejected a freshly refreshed access token: log in again and update "
                f"{self.env['refresh_token_env']}",
                self.env["refresh_token_env"],
            )
        return (
            "the Schwab app is not entitled to market data (check the app's API products "
            f"for {self.env['app_key_env']})",
            self.env["app_key_env"],
        )

    # --- data -----------------------------------------------------------------------------

    async def snapshot(self, symbol: str) -> OptionChain:
        today = self.clock().astimezone(NY).date()
        base: dict[str, Any] = {
            "symbol": schwab_symbol(symbol),
            "contractType": "ALL",
            "includeUnderlyingQuote": "true",
            "strategy": "SINGLE",
        }
        if self.strike_count is not None:
            base["strikeCount"] = self.strike_count
        budget = Budget(MAX_CHAIN_REQUESTS - 1)  # the first request
        parts = await self._fetch_window(
            base, today, today + timedelta(days=self.max_days), "ALL", budget
        )
        if not parts:
            raise ChainTooBig(
                "Schwab refused the chain as too big, even asked in parts (down to "
                f"{NARROW_STRIKES[-1]} strikes a day and side): lower `strike_count` or "
                "`max_days`",
                vendor=VENDOR,
            )
        notes = (
            ["Schwab truncated the chain, even asked in parts: " + "; ".join(sorted(budget.notes))]
            if budget.notes
            else []
        )
        payload = await self._parse(merge_chain_payloads, parts)
        return await self._parse(
            parse_schwab_chain,
            payload,
            now=self.clock(),
            symbol=plain_symbol(symbol),
            truncation_notes=notes,
        )

    async def _fetch_window(
        self, base: Mapping[str, Any], lo: date, hi: date, side: str, budget: Budget
    ) -> list[Any]:
        """The /chains responses that together hold days `lo`..`hi` of `side` ("ALL",
        "CALL", "PUT"). A response Schwab truncated (`isChainTruncated`) or refused as too
        big (`ChainTooBig`) is asked again in halves of the window, then one day's calls and
        puts apart, then (refused) with fewer strikes (`NARROW_STRIKES`); what still cannot
        be had is added to `budget.notes`. The caller has counted this request; parts and
        narrowed requests are taken from `budget.left` before they start (the parts run
        concurrently, so a reservation made after would let siblings overspend)."""
        params = {**base, "fromDate": lo.isoformat(), "toDate": hi.isoformat()}
        if side != "ALL":
            params["contractType"] = side
        payload: Any = None
        try:
            async with budget.gate:
                payload = await self.get_json("/chains", params)
        except ChainTooBig:
            pass
        else:
            if not is_truncated(payload):
                return [payload]
        what = window_words(lo, hi, side)
        splits: list[tuple[date, date, str]] = []
        if lo < hi:
            mid = lo + timedelta(days=(hi - lo).days // 2)
            splits = [(lo, mid, side), (mid + timedelta(days=1), hi, side)]
        elif side == "ALL":
            splits = [(lo, hi, "CALL"), (lo, hi, "PUT")]
        if splits and budget.left >= len(splits):
            budget.left -= len(splits)
            results = await asyncio.gather(
                *(self._fetch_window(base, a, b, s, budget) for a, b, s in splits),
                return_exceptions=True,
            )
            out: list[Any] = []
            for r in results:
                if isinstance(r, BaseException):
                    raise r
                out.extend(r)
            return out
        if payload is not None:
            budget.notes.append(f"{what} incomplete ({count_contracts(payload)} received)")
            return [payload]
        current = self.strike_count or NARROW_STRIKES[0] * 2
        for count in (n for n in NARROW_STRIKES if n < current):
            if budget.left <= 0:
                break
            budget.left -= 1
            try:
                async with budget.gate:
                    narrowed = await self.get_json("/chains", {**params, "strikeCount": count})
            except ChainTooBig:
                continue
            cut = " (and still truncated)" if is_truncated(narrowed) else ""
            budget.notes.append(f"{what} only the {count} strikes nearest the money{cut}")
            return [narrowed]
        budget.notes.append(f"{what} missing (refused as too big)")
        return []

    def _vendor_error(self, body: Body, kw: Mapping[str, Any]) -> FeedError | None:
        # Schwab's gateway answers a chain over its body limit with 502 and the fault code
        # `protocol.http.TooBigBody`: asking again for the same thing cannot help.
        if body.status_code == 502 and b"TooBigBody" in body.content[:2000]:
            return ChainTooBig("Schwab refused to send a chain this big (502 TooBigBody)", **kw)
        return None

    async def expirations(self, symbol: str) -> list[datetime]:
        payload = await self.get_json("/expirationchain", {"symbol": schwab_symbol(symbol)})
        now = self.clock()
        sym = plain_symbol(symbol)
        dates = await self._parse(parse_schwab_expirations, payload)
        return [e for e in await self._parse(expirations_from_dates, sym, dates) if e > now]
