"""The error log: one notice per feed and condition, a new one after recovery, bounded
records newest first, and a status line that names what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hedgeflow.app.errorlog import ErrorLog, condition_kind, describe
from hedgeflow.feeds.errors import (
    BadPayload,
    FeedAuthError,
    FeedUnavailable,
    PayloadTooLarge,
    RateLimited,
    Redirected,
    TlsError,
    WrongSymbol,
)

T0 = datetime(2026, 5, 15, 14, 30, tzinfo=UTC)
SYMBOLS = ("SPX", "SPY", "QQQ", "NDX", "IWM")


def down() -> FeedUnavailable:
    return FeedUnavailable("cannot reach cboe at cdn.cboe.com (ConnectError)", vendor="cboe")


def test_network_down_across_five_symbols_is_one_notice() -> None:
    log = ErrorLog()
    notices = [log.failed(T0, "cboe", s, down(), 2.0) for s in SYMBOLS]
    assert [n is not None for n in notices] == [True, False, False, False, False]
    first = notices[0]
    assert first is not None and first.kind == "unavailable" and first.severity == "error"
    assert "cannot reach cboe" in first.message and "retrying in 2 s" in first.message
    # Every failure is kept, newest first, with its backoff.
    assert [r.symbol for r in log.recent()] == list(reversed(SYMBOLS))
    assert log.recent()[0].next_retry == T0 + timedelta(seconds=2)
    assert log.status() == "cboe unavailable (5 symbols)"
    # Still down on the next round: still one condition, no new notice.
    assert all(
        log.failed(T0 + timedelta(seconds=5), "cboe", s, down(), 4.0) is None for s in SYMBOLS
    )
    assert len(log) == 10 and len(log.active()) == 1


def test_condition_ends_when_every_symbol_recovered_then_is_news_again() -> None:
    log = ErrorLog()
    for s in ("SPX", "SPY"):
        log.failed(T0, "cboe", s, down(), 1.0)
    assert log.recovered("cboe", "SPX") == []  # SPY is still down
    assert log.status() == "cboe unavailable (SPY)"
    ended = log.recovered("cboe", "SPY")
    assert [(n.kind, n.severity) for n in ended] == [("unavailable", "information")]
    assert log.status() == "" and log.active() == []
    again = log.failed(T0 + timedelta(minutes=1), "cboe", "SPX", down(), 1.0)
    assert again is not None and again.kind == "unavailable"


def test_different_conditions_and_feeds_are_separate_notices() -> None:
    log = ErrorLog()
    assert log.failed(T0, "cboe", "SPX", down(), 1.0) is not None
    limited = RateLimited("rate limited", retry_after=30.0, vendor="cboe")
    assert log.failed(T0, "cboe", "SPY", limited, 30.0) is not None
    assert log.failed(T0, "tradier", "SPX", down(), 1.0) is not None
    assert {(c.feed, c.kind) for c in log.active()} == {
        ("cboe", "unavailable"),
        ("cboe", "rate limited"),
        ("tradier", "unavailable"),
    }


def test_a_symbol_moving_to_another_condition_leaves_the_old_one() -> None:
    log = ErrorLog()
    log.failed(T0, "cboe", "SPX", down(), 1.0)
    log.failed(T0 + timedelta(seconds=1), "cboe", "SPX", BadPayload("truncated JSON"), 2.0)
    assert [c.kind for c in log.active()] == ["bad payload"]
    # back to the first condition: it had ended, so it is news again
    assert log.failed(T0 + timedelta(seconds=2), "cboe", "SPX", down(), 4.0) is not None


def test_auth_error_notice_says_not_retried_and_names_the_variable() -> None:
    log = ErrorLog()
    err = FeedAuthError("the token was rejected", env_var="TRADIER_TOKEN", vendor="tradier")
    notice = log.failed(T0, "tradier", "SPX", err, None)
    assert notice is not None and notice.kind == "auth"
    assert "TRADIER_TOKEN" in notice.message and "not retried" in notice.message
    assert log.recent()[0].next_retry is None
    advised = ErrorLog().failed(T0, "tradier", "SPX", err, None, advice="set it, then resume")
    assert advised is not None and advised.message.endswith("\nset it, then resume")
    assert all(log.failed(T0, "tradier", s, err, None) is None for s in SYMBOLS[1:])


def test_records_are_bounded_newest_kept() -> None:
    log = ErrorLog(capacity=3)
    for i in range(5):
        log.failed(T0 + timedelta(seconds=i), "cboe", f"S{i}", down(), 1.0)
    assert [r.symbol for r in log.recent()] == ["S4", "S3", "S2"]
    assert [r.symbol for r in log.recent(limit=1)] == ["S4"]
    with pytest.raises(ValueError):
        ErrorLog(capacity=0)


def test_forgetting_a_symbol_closes_its_conditions() -> None:
    log = ErrorLog()
    log.failed(T0, "cboe", "SPX", down(), 1.0)
    log.forget("SPX")
    assert log.active() == [] and len(log) == 1
    assert log.failed(T0, "cboe", "SPY", down(), 1.0) is not None


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        ErrorLog().failed(datetime(2026, 5, 15), "cboe", "SPX", down(), 1.0)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (FeedAuthError("x", env_var="V"), "auth"),
        (RateLimited("x"), "rate limited"),
        (TlsError("x"), "tls"),
        (Redirected("x"), "redirect"),
        (PayloadTooLarge("x"), "payload too large"),
        (WrongSymbol("SPX", "SPY"), "wrong symbol"),
        (BadPayload("x"), "bad payload"),
        (FeedUnavailable("x"), "unavailable"),
        (ConnectionResetError("x"), "unavailable"),
        (ZeroDivisionError("x"), "ZeroDivisionError"),
    ],
)
def test_condition_kinds(error: BaseException, kind: str) -> None:
    assert condition_kind(error) == kind


def test_describe_is_one_line() -> None:
    assert describe(FeedUnavailable("a\n  b", vendor="cboe")) == "cboe: a b"
    assert describe(KeyError("k")) == "KeyError: 'k'"


def test_status_with_now_says_when_each_condition_is_retried() -> None:
    log = ErrorLog()
    for s in SYMBOLS:
        log.failed(T0, "cboe", s, down(), 8.0)
    auth = FeedAuthError("token rejected", env_var="TRADIER_TOKEN", vendor="tradier")
    log.failed(T0 + timedelta(seconds=1), "tradier", "SPX", auth, None)
    assert log.status(now=T0 + timedelta(seconds=3)) == (
        "tradier auth (SPX, not retried) · cboe unavailable (5 symbols, retry in 5s)"
    )
    assert log.status(now=T0 + timedelta(seconds=30)).endswith("(5 symbols, retry in 0s)")
