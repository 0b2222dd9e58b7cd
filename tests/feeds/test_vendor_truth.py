"""What the vendor says about its own data (issue 10 item 9), against a real local server.

Schwab: a chain it truncates (`isChainTruncated`) or refuses as too big (502 TooBigBody) is
asked for again in smaller parts, the parts merged, and what still cannot be had is a note.
Schwab and Tradier after the close: the chain's as-of time is its options' quote time, not
the underlying's extended-hours time, and an after-hours underlying print is labelled. A
missing spot says "missing". Payloads are built from the recorded ones (every field a real
body carries: `bid`/`ask`, `quoteTimeInLong`, `underlying.{last, close, quoteTime,
tradeTime}`, `isChainTruncated`), only prices, strikes and times changed.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hedgeflow.engine.clock import NY
from hedgeflow.feeds.errors import ChainTooBig, FeedUnavailable
from hedgeflow.feeds.schwab import SchwabFeed, parse_schwab_chain
from hedgeflow.feeds.schwab_parts import MAX_CHAIN_REQUESTS, merge_chain_payloads
from hedgeflow.feeds.tradier import TradierFeed
from tests.feeds.conftest import fast_settings, load_payload

#: Friday 2026-05-15, 13:30:05 New York (regular session).
NOW = datetime(2026, 5, 15, 17, 30, 5, tzinfo=UTC)
#: The same Friday at 20:05 New York: after the 16:00 close.
EVENING = datetime(2026, 5, 16, 0, 5, tzinfo=UTC)
TOO_BIG = {
    "fault": {
        "faultstring": "Body buffer overflow",
        "detail": {"errorcode": "protocol.http.TooBigBody"},
    }
}


def ny_ms(d: date, hh: int, mm: int, ss: int) -> int:
    """Epoch ms of a New York wall time."""
    return int(datetime(d.year, d.month, d.day, hh, mm, ss, tzinfo=NY).timestamp() * 1000)


# --- Schwab payloads shaped like real ones ------------------------------------------------------


def _recorded() -> dict[str, Any]:
    return load_payload("schwab/marketdata/v1/chains/SPX.json")


def schwab_contract(
    root: str, day: date, strike: float, call: bool, *, quote_ms: int, price: float = 10.0
) -> dict[str, Any]:
    """A contract with every field of the recorded (real-shaped) one."""
    c = copy.deepcopy(_recorded()["callExpDateMap"]["2026-05-15:0"]["5900.0"][0])
    side = "C" if call else "P"
    c.update(
        putCall="CALL" if call else "PUT",
        symbol=f"{root:<6}{day:%y%m%d}{side}{int(strike * 1000):08d}",
        description=f"{root} {day.isoformat()} {strike} {'CALL' if call else 'PUT'}",
        strikePrice=strike,
        optionRoot=root,
        expirationDate=f"{day.isoformat()}T20:00:00.000+00:00",
        quoteTimeInLong=quote_ms,
        tradeTimeInLong=quote_ms - 60_000,
        bid=price - 0.1,
        ask=price + 0.1,
        last=price,
        mark=price,
    )
    return c


def schwab_chain(
    symbol: str,
    days: list[date],
    *,
    sides: tuple[bool, ...] = (True, False),
    strikes: tuple[float, ...] = (5900.0, 5950.0),
    root: str | None = None,
    quote_ms: int,
    underlying: dict[str, Any] | None,
    truncated: bool = False,
    today: date = date(2026, 5, 15),
) -> dict[str, Any]:
    """A /chains body: the recorded header with `underlying`, maps for `days` and `sides`."""
    body = {k: v for k, v in _recorded().items() if not k.endswith("ExpDateMap")}
    body.update(symbol=symbol, underlying=underlying, isChainTruncated=truncated)
    body["underlyingPrice"] = underlying.get("last") if underlying else None
    root = root or symbol.lstrip("$")
    for call, key in ((True, "callExpDateMap"), (False, "putExpDateMap")):
        body[key] = {
            f"{d.isoformat()}:{(d - today).days}": {
                f"{k:.1f}": [schwab_contract(root, d, k, call, quote_ms=quote_ms)] for k in strikes
            }
            for d in days
            if call in sides
        }
    body["numberOfContracts"] = len(days) * len(strikes) * len(sides)
    return body


def schwab_underlying(symbol: str, *, last: float, close: float, time_ms: int) -> dict[str, Any]:
    u = dict(_recorded()["underlying"])
    u.update(symbol=symbol, last=last, mark=last, close=close, quoteTime=time_ms, tradeTime=time_ms)
    return u


# --- Schwab feed against a local server --------------------------------------------------------

TOKEN = "access-SECRET-token-vt"


@pytest.fixture
def creds(monkeypatch) -> None:
    monkeypatch.setenv("SCHWAB_APP_KEY", "appkey-SECRET-vt")
    monkeypatch.setenv("SCHWAB_APP_SECRET", "appsecret-SECRET-vt")
    monkeypatch.setenv("SCHWAB_REFRESH_TOKEN", "refresh-SECRET-vt")


def schwab_feed(httpserver: HTTPServer, *, clock: datetime = NOW, **kw: Any) -> SchwabFeed:
    httpserver.expect_request("/v1/oauth/token", method="POST").respond_with_json(
        {"access_token": TOKEN, "expires_in": 1800, "token_type": "Bearer"}
    )
    return SchwabFeed(
        fast_settings(httpserver.url_for("/marketdata/v1")),
        token_url=httpserver.url_for("/v1/oauth/token"),
        clock=lambda: clock,
        **kw,
    )


def chain_requests(httpserver: HTTPServer) -> list[tuple[str, str, str, str | None]]:
    """(fromDate, toDate, contractType, strikeCount) of every /chains request, in order."""
    return [
        (r.args["fromDate"], r.args["toDate"], r.args["contractType"], r.args.get("strikeCount"))
        for r, _ in httpserver.log
        if r.path.endswith("/chains")
    ]


#: Expirations listed in the 7-day window from Friday 2026-05-15 (SPXW dailies).
LISTED = [date(2026, 5, 15), date(2026, 5, 18), date(2026, 5, 19), date(2026, 5, 20)]
LISTED += [date(2026, 5, 21), date(2026, 5, 22)]


def window_days(request: Request) -> list[date]:
    lo = date.fromisoformat(request.args["fromDate"])
    hi = date.fromisoformat(request.args["toDate"])
    return [d for d in LISTED if lo <= d <= hi]


def sides_of(request: Request) -> tuple[bool, ...]:
    kind = request.args["contractType"]
    return (True, False) if kind == "ALL" else (kind == "CALL",)


def spx_body(request: Request, *, truncated: bool, keep: int | None = None) -> dict[str, Any]:
    """What Schwab would send for the request; `keep` cuts each map to its first `keep`
    strikes of the first expiration (a truncated answer holds less than was asked for)."""
    und = schwab_underlying(
        "$SPX", last=5912.34, close=5890.12, time_ms=ny_ms(LISTED[0], 13, 30, 0)
    )
    days = window_days(request)
    if keep is not None:
        days = days[:1]
    strikes = (5900.0, 5950.0) if keep is None else (5900.0, 5950.0)[:keep]
    return schwab_chain(
        "$SPX",
        days,
        sides=sides_of(request),
        strikes=strikes,
        root="SPXW",
        quote_ms=ny_ms(LISTED[0], 13, 29, 58),
        underlying=und,
        truncated=truncated,
    )


async def test_truncated_chain_is_split_into_two_windows_and_merged(
    httpserver: HTTPServer, creds
) -> None:
    # Schwab clips an answer of more than four expirations; four or fewer come whole.
    def handler(request: Request) -> Response:
        long = len(window_days(request)) > 4
        body = spx_body(request, truncated=long, keep=1 if long else None)
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(handler)
    async with schwab_feed(httpserver) as feed:
        chain = await feed.snapshot("SPX")
    assert sorted(chain_requests(httpserver)) == [
        ("2026-05-15", "2026-05-18", "ALL", None),
        ("2026-05-15", "2026-05-22", "ALL", None),  # the whole week: truncated
        ("2026-05-19", "2026-05-22", "ALL", None),
    ]
    # every listed expiration, both strikes, both sides: nothing from the clipped answer
    # is missing and nothing is doubled
    days = {datetime.fromtimestamp(e, tz=UTC).astimezone(NY).date() for e in chain.expiry}
    assert days == set(LISTED)
    assert len(chain) == len(LISTED) * 2 * 2 and "duplicate" not in chain.dropped
    assert chain.notes == ()


async def test_persistent_truncation_is_a_note_naming_the_day_and_side(
    httpserver: HTTPServer, creds
) -> None:
    # May 15 comes truncated however it is asked for: alone, and each side alone.
    def handler(request: Request) -> Response:
        bad = date(2026, 5, 15) in window_days(request)
        body = spx_body(request, truncated=bad, keep=1 if bad else None)
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(handler)
    async with schwab_feed(httpserver, max_days=3) as feed:
        chain = await feed.snapshot("SPX")
    assert sorted(chain_requests(httpserver)) == [
        ("2026-05-15", "2026-05-15", "ALL", None),
        ("2026-05-15", "2026-05-15", "CALL", None),
        ("2026-05-15", "2026-05-15", "PUT", None),
        ("2026-05-15", "2026-05-16", "ALL", None),
        ("2026-05-15", "2026-05-18", "ALL", None),
        ("2026-05-16", "2026-05-16", "ALL", None),
        ("2026-05-17", "2026-05-18", "ALL", None),
    ]
    (note,) = chain.notes
    assert note.startswith("Schwab truncated the chain")
    assert "2026-05-15 calls incomplete (1 received)" in note
    assert "2026-05-15 puts incomplete (1 received)" in note
    assert "05-18" not in note  # May 18 came whole
    # what did come is kept: May 15's one strike each side and all of May 18
    assert len(chain) == 2 + 4


async def test_truncation_everywhere_stays_within_the_request_budget(
    httpserver: HTTPServer, creds
) -> None:
    def handler(request: Request) -> Response:
        body = spx_body(request, truncated=True, keep=1)
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(handler)
    async with schwab_feed(httpserver) as feed:
        chain = await feed.snapshot("SPX")
    asked = chain_requests(httpserver)
    assert len(asked) <= MAX_CHAIN_REQUESTS and len(asked) == len(set(asked))
    (note,) = chain.notes
    assert note.startswith("Schwab truncated the chain, even asked in parts: ")
    # every listed day is named as incomplete (alone or in a window the budget left whole)
    assert all(d.isoformat() in note for d in LISTED)
    assert len(chain) > 0


async def test_a_small_budget_is_never_overspent_by_concurrent_parts(
    httpserver: HTTPServer, creds, monkeypatch
) -> None:
    monkeypatch.setattr("hedgeflow.feeds.schwab.MAX_CHAIN_REQUESTS", 6)

    def handler(request: Request) -> Response:
        body = spx_body(request, truncated=True, keep=1)
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(handler)
    async with schwab_feed(httpserver) as feed:
        chain = await feed.snapshot("SPX")
    asked = chain_requests(httpserver)
    # the week, its two halves, then the two quarters of ONE half (the other half's
    # quarters would overspend): 5 of 6, never 7
    assert len(asked) == 5
    (note,) = chain.notes
    assert note.count("incomplete") == 3 and ".." in note


def test_a_truncated_payload_parsed_alone_says_so() -> None:
    body = _recorded()
    body["isChainTruncated"] = True
    chain = parse_schwab_chain(body, now=NOW)
    assert chain.notes == ("Schwab truncated this chain (isChainTruncated): contracts are missing",)
    body["isChainTruncated"] = False
    assert parse_schwab_chain(body, now=NOW).notes == ()


async def test_502_too_big_body_is_typed_and_triggers_the_split(
    httpserver: HTTPServer, creds
) -> None:
    # The gateway refuses any answer holding more than one expiration's both sides.
    def handler(request: Request) -> Response:
        if len(window_days(request)) > 1 or request.args["contractType"] == "ALL":
            return Response(json.dumps(TOO_BIG), status=502, content_type="application/json")
        body = spx_body(request, truncated=False)
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(handler)
    async with schwab_feed(httpserver, max_days=3) as feed:
        chain = await feed.snapshot("SPX")
    asked = chain_requests(httpserver)
    # not retried as is: every request is asked once
    assert len(asked) == len(set(asked))
    assert ("2026-05-15", "2026-05-15", "CALL", None) in asked
    assert ("2026-05-18", "2026-05-18", "PUT", None) in asked
    assert len(chain) == 2 * 2 * 2 and chain.notes == ()


async def test_too_big_even_for_one_side_narrows_the_strikes_and_says_so(
    httpserver: HTTPServer, creds
) -> None:
    def handler(request: Request) -> Response:
        count = request.args.get("strikeCount")
        if count is None or int(count) > 100:
            return Response(json.dumps(TOO_BIG), status=502, content_type="application/json")
        body = spx_body(request, truncated=False)
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/marketdata/v1/chains").respond_with_handler(handler)
    async with schwab_feed(httpserver, max_days=0) as feed:
        chain = await feed.snapshot("SPX")
    asked = chain_requests(httpserver)
    assert asked[0] == ("2026-05-15", "2026-05-15", "ALL", None)
    # each side whole (refused), then 200 strikes (refused), then 100 (sent)
    assert sorted(asked[1:], key=repr) == sorted(
        [
            ("2026-05-15", "2026-05-15", side, count)
            for side in ("CALL", "PUT")
            for count in (None, "200", "100")
        ],
        key=repr,
    )
    (note,) = chain.notes
    assert "2026-05-15 calls only the 100 strikes nearest the money" in note
    assert "2026-05-15 puts only the 100 strikes nearest the money" in note
    assert len(chain) == 4


async def test_too_big_at_every_size_is_chain_too_big(httpserver: HTTPServer, creds) -> None:
    httpserver.expect_request("/marketdata/v1/chains").respond_with_json(TOO_BIG, status=502)
    async with schwab_feed(httpserver, max_days=0) as feed:
        with pytest.raises(ChainTooBig, match="too big") as err:
            await feed.snapshot("SPX")
    assert isinstance(err.value, FeedUnavailable)
    # ALL, then each side whole, at 200, 100 and 50 strikes: never the same request twice
    asked = chain_requests(httpserver)
    assert len(asked) == 1 + 2 * 4 and len(asked) == len(set(asked))


async def test_a_plain_502_is_still_a_retried_server_error(httpserver: HTTPServer, creds) -> None:
    httpserver.expect_request("/marketdata/v1/chains").respond_with_data("Bad Gateway", status=502)
    async with schwab_feed(httpserver) as feed:
        with pytest.raises(FeedUnavailable, match="server error") as err:
            await feed.snapshot("SPX")
    assert not isinstance(err.value, ChainTooBig)
    assert len(chain_requests(httpserver)) == 3  # the policy's attempts, one window


def test_merge_keeps_disjoint_parts_and_joins_one_strike() -> None:
    und = schwab_underlying("$SPX", last=5912.34, close=5890.12, time_ms=ny_ms(LISTED[0], 13, 0, 0))
    q = ny_ms(LISTED[0], 13, 0, 0)
    a = schwab_chain("$SPX", LISTED[:1], sides=(True,), root="SPXW", quote_ms=q, underlying=und)
    b = schwab_chain("$SPX", LISTED[:1], sides=(False,), root="SPXW", quote_ms=q, underlying=und)
    c = schwab_chain("$SPX", LISTED[1:2], root="SPXW", quote_ms=q, underlying=und)
    merged = merge_chain_payloads([a, b, c])
    chain = parse_schwab_chain(merged, now=NOW)
    assert len(chain) == 2 + 2 + 4 and merged["numberOfContracts"] == 8
    assert merge_chain_payloads([a]) is a


# --- after the close ------------------------------------------------------------------------------


async def test_schwab_after_hours_as_of_is_the_options_and_the_print_is_labelled(
    httpserver: HTTPServer, creds
) -> None:
    # A real AAPL chain read in the evening: the underlying quoted 19:59:59, its options
    # at 15:59:59. The chain is as of 15:59:59; the after-hours print is said to be one.
    friday = date(2026, 5, 15)
    und = schwab_underlying("AAPL", last=190.65, close=189.63, time_ms=ny_ms(friday, 19, 59, 59))
    body = schwab_chain(
        "AAPL",
        [date(2026, 5, 22)],
        strikes=(190.0, 195.0),
        quote_ms=ny_ms(friday, 15, 59, 59),
        underlying=und,
    )
    httpserver.expect_request("/marketdata/v1/chains").respond_with_json(body)
    async with schwab_feed(httpserver, clock=EVENING) as feed:
        chain = await feed.snapshot("AAPL")
    assert chain.as_of == datetime(2026, 5, 15, 15, 59, 59, tzinfo=NY)
    # Schwab's `close` is the previous session's (change = last - close): not a spot
    assert chain.spot == 190.65
    assert chain.spot_note == "after-hours print at 19:59 ET, options quoted 15:59 ET"


def test_an_index_quoted_after_the_close_but_last_traded_at_it_is_not_labelled() -> None:
    # $SPX's quote time runs on after 16:00; its value is the close (traded 16:00:00)
    friday = date(2026, 5, 15)
    und = schwab_underlying("$SPX", last=5912.34, close=5890.12, time_ms=ny_ms(friday, 16, 0, 0))
    und["quoteTime"] = ny_ms(friday, 19, 59, 59)
    body = schwab_chain(
        "$SPX", [date(2026, 5, 22)], root="SPXW", quote_ms=ny_ms(friday, 15, 59, 59), underlying=und
    )
    chain = parse_schwab_chain(body, now=EVENING)
    assert chain.spot == 5912.34 and chain.spot_note == ""
    assert chain.as_of == datetime(2026, 5, 15, 15, 59, 59, tzinfo=NY)


def test_schwab_print_inside_the_session_is_not_labelled() -> None:
    friday = date(2026, 5, 15)
    und = schwab_underlying("AAPL", last=190.65, close=189.63, time_ms=ny_ms(friday, 15, 59, 59))
    body = schwab_chain(
        "AAPL", [date(2026, 5, 22)], quote_ms=ny_ms(friday, 15, 59, 58), underlying=und
    )
    chain = parse_schwab_chain(body, now=EVENING)
    assert chain.spot == 190.65 and chain.spot_note == ""
    assert chain.as_of == datetime(2026, 5, 15, 15, 59, 58, tzinfo=NY)


async def test_schwab_missing_spot_says_missing_not_market_closed(
    httpserver: HTTPServer, creds
) -> None:
    friday = date(2026, 5, 15)
    body = schwab_chain(
        "AAPL", [date(2026, 5, 22)], quote_ms=ny_ms(friday, 15, 59, 59), underlying=None
    )
    body["underlyingPrice"] = 0.0
    httpserver.expect_request("/marketdata/v1/chains").respond_with_json(body)
    # Saturday: a "stale (market closed)" clock
    async with schwab_feed(httpserver, clock=EVENING + timedelta(days=1)) as feed:
        chain = await feed.snapshot("AAPL")
    assert np.isnan(chain.spot) and chain.spot_note == "missing"


def test_schwab_previous_close_only_is_named_stale() -> None:
    friday = date(2026, 5, 15)
    und = schwab_underlying("AAPL", last=0.0, close=189.63, time_ms=ny_ms(friday, 19, 59, 59))
    und["mark"] = None
    body = schwab_chain(
        "AAPL", [date(2026, 5, 22)], quote_ms=ny_ms(friday, 15, 59, 59), underlying=und
    )
    body["underlyingPrice"] = None
    chain = parse_schwab_chain(body, now=EVENING)
    assert chain.spot == 189.63 and chain.spot_note == "stale (previous close)"


# --- Tradier after the close ----------------------------------------------------------------------


def tradier_quote(*, last: float | None, close: float | None, trade_ms: int) -> dict[str, Any]:
    body = load_payload("tradier/markets/quotes.json")
    q = body["quotes"]["quote"]
    q.update(
        symbol="SPY",
        description="SPDR S&P 500",
        type="etf",
        last=last,
        close=close,
        prevclose=388.0,
        trade_date=trade_ms,
        bid=None,
        ask=None,
        root_symbols="SPY",
    )
    return body


def tradier_chain(day: date, quote_ms: int) -> dict[str, Any]:
    template = load_payload("tradier/markets/options/chains/SPX_2026-05-18.json")["options"]
    rows = []
    for strike in (389.0, 391.0):
        for kind in ("call", "put"):
            r = copy.deepcopy(template["option"])
            r.update(
                symbol=f"SPY{day:%y%m%d}{kind[0].upper()}{int(strike * 1000):08d}",
                description=f"SPY {day.isoformat()} {strike} {kind}",
                underlying="SPY",
                root_symbol="SPY",
                strike=strike,
                option_type=kind,
                expiration_date=day.isoformat(),
                bid_date=quote_ms,
                ask_date=quote_ms,
                trade_date=quote_ms - 120_000,
                bid=1.9,
                ask=2.1,
                last=2.0,
            )
            rows.append(r)
    return {"options": {"option": rows}}


def serve_tradier(httpserver: HTTPServer, quote: dict[str, Any], day: date, quote_ms: int) -> None:
    httpserver.expect_request("/v1/markets/quotes").respond_with_json(quote)
    httpserver.expect_request("/v1/markets/options/expirations").respond_with_json(
        {"expirations": {"date": [day.isoformat()]}}
    )
    httpserver.expect_request(
        "/v1/markets/options/chains",
        query_string={"symbol": "SPY", "expiration": day.isoformat(), "greeks": "true"},
    ).respond_with_json(tradier_chain(day, quote_ms))


async def test_tradier_after_hours_uses_the_regular_close_and_labels_the_print(
    httpserver: HTTPServer, monkeypatch
) -> None:
    # SPY read in the evening: last 390.65 after hours, the day's regular close 389.63
    monkeypatch.setenv("TRADIER_TOKEN", "tradier-SECRET-vt")
    friday = date(2026, 5, 15)
    quote = tradier_quote(last=390.65, close=389.63, trade_ms=ny_ms(friday, 19, 59, 59))
    serve_tradier(httpserver, quote, date(2026, 5, 22), ny_ms(friday, 15, 59, 59))
    feed = TradierFeed(fast_settings(httpserver.url_for("/v1")), clock=lambda: EVENING)
    async with feed:
        chain = await feed.snapshot("SPY")
    assert chain.as_of == datetime(2026, 5, 15, 15, 59, 59, tzinfo=NY)
    assert chain.spot == 389.63
    assert chain.spot_note == "regular close; after-hours print 390.65 at 19:59 ET"


async def test_tradier_after_hours_without_a_close_keeps_the_print_labelled(
    httpserver: HTTPServer, monkeypatch
) -> None:
    monkeypatch.setenv("TRADIER_TOKEN", "tradier-SECRET-vt")
    friday = date(2026, 5, 15)
    quote = tradier_quote(last=390.65, close=None, trade_ms=ny_ms(friday, 19, 59, 59))
    serve_tradier(httpserver, quote, date(2026, 5, 22), ny_ms(friday, 15, 59, 59))
    feed = TradierFeed(fast_settings(httpserver.url_for("/v1")), clock=lambda: EVENING)
    async with feed:
        chain = await feed.snapshot("SPY")
    assert chain.spot == 390.65
    assert chain.spot_note == "after-hours print at 19:59 ET, options quoted 15:59 ET"


async def test_tradier_missing_spot_says_missing(httpserver: HTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("TRADIER_TOKEN", "tradier-SECRET-vt")
    friday = date(2026, 5, 15)
    quote = tradier_quote(last=None, close=None, trade_ms=0)
    quote["quotes"]["quote"]["prevclose"] = None
    serve_tradier(httpserver, quote, date(2026, 5, 22), ny_ms(friday, 15, 59, 59))
    feed = TradierFeed(
        fast_settings(httpserver.url_for("/v1")), clock=lambda: EVENING + timedelta(days=1)
    )
    async with feed:
        chain = await feed.snapshot("SPY")
    assert np.isnan(chain.spot) and chain.spot_note == "missing"
