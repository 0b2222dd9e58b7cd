"""Property tests: whatever JSON a vendor sends, each parser returns an OptionChain or raises
BadPayload; it never crashes with anything else. Inputs are arbitrary JSON values and the
recorded payloads with random fields replaced by random JSON scalars."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedgeflow.engine.chain import OptionChain
from hedgeflow.feeds.cboe import parse_cboe_json
from hedgeflow.feeds.errors import BadPayload
from hedgeflow.feeds.schwab import parse_schwab_chain
from hedgeflow.feeds.tradier import parse_tradier_chain
from tests.feeds.conftest import load_payload

NOW = datetime(2026, 5, 15, 17, 30, 5, tzinfo=UTC)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["NaN", "-999", "2026-05-15", "2026-05-15T13:29:58", "SPXW260515C05900000", ""]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every (container path, key) in a JSON document."""
    out: list[tuple] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append((*prefix, k))
            out.extend(paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append((*prefix, i))
            out.extend(paths(v, (*prefix, i)))
    return out


def mutate(doc: Any, data: st.DataObject, n: int = 4) -> Any:
    doc = copy.deepcopy(doc)
    all_paths = paths(doc)
    for _ in range(n):
        path = data.draw(st.sampled_from(all_paths))
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = data.draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced an ancestor
    return doc


def check(fn: Any) -> None:
    try:
        chain = fn()
    except BadPayload:
        return
    assert isinstance(chain, OptionChain)
    assert (chain.expiry > chain.as_of_epoch).all()
    assert np.isfinite(chain.strike).all() and (chain.strike > 0).all()
    assert not (chain.bid > chain.ask).any()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CBOE = load_payload("cboe/options/_SPX.json")
TRADIER_Q = load_payload("tradier/markets/quotes.json")
TRADIER_C = load_payload("tradier/markets/options/chains/SPX_2026-05-15.json")
SCHWAB = load_payload("schwab/marketdata/v1/chains/SPX.json")


@FUZZ
@given(payload=json_values)
def test_cboe_arbitrary_json(payload: Any) -> None:
    check(lambda: parse_cboe_json(payload))


@FUZZ
@given(data=st.data())
def test_cboe_mutated_payload(data: st.DataObject) -> None:
    doc = mutate(CBOE, data)
    check(lambda: parse_cboe_json(doc))


@FUZZ
@given(quote=json_values, chain=json_values)
def test_tradier_arbitrary_json(quote: Any, chain: Any) -> None:
    check(lambda: parse_tradier_chain(quote, [chain], now=NOW))


@FUZZ
@given(data=st.data())
def test_tradier_mutated_payload(data: st.DataObject) -> None:
    q, c = mutate(TRADIER_Q, data, 2), mutate(TRADIER_C, data)
    check(lambda: parse_tradier_chain(q, [c], now=NOW))


@FUZZ
@given(payload=json_values)
def test_schwab_arbitrary_json(payload: Any) -> None:
    check(lambda: parse_schwab_chain(payload, now=NOW))


@FUZZ
@given(data=st.data())
def test_schwab_mutated_payload(data: st.DataObject) -> None:
    doc = mutate(SCHWAB, data)
    check(lambda: parse_schwab_chain(doc, now=NOW))
