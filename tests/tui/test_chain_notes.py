"""A chain's own notes (what the vendor said about its data: a truncated chain) reach the
analysis notes first, the `analyze` summary, the JSON, a recorded chain, and the status line
ahead of the spot note."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from bench.chains import spx_like_chain
from hedgeflow.app.summary import summary_text
from hedgeflow.engine.chain import chain_from_dict, chain_to_dict
from hedgeflow.engine.jsonable import to_jsonable
from hedgeflow.engine.pipeline import analyze_chain
from hedgeflow.tui.present import status_view
from hedgeflow.tui.state import SymbolState

NOTE = "Schwab truncated the chain, even asked in parts: 2026-05-15 calls incomplete (412 received)"


def test_chain_notes_lead_every_surface() -> None:
    chain = replace(spx_like_chain(1), notes=(NOTE,), spot_note="after-hours print at 19:59 ET")
    a = analyze_chain(chain, all_expiries=False)
    assert a.notes[0] == NOTE
    assert f"note     {NOTE}" in summary_text(a).splitlines()
    assert json.loads(json.dumps(to_jsonable(a)))["notes"][0] == NOTE
    back = chain_from_dict(json.loads(json.dumps(chain_to_dict(chain))))
    assert back.notes == (NOTE,)
    st = SymbolState(symbol=chain.symbol, chain=chain, analysis=a)
    view = status_view(
        st,
        False,
        feed_name="schwab",
        data_now=chain.as_of + timedelta(seconds=5),
        mono=0.0,
        paused=False,
        recording=False,
    )
    # first, before the spot note: contracts are missing; shown once
    assert view.notes[0] == NOTE and view.notes.count(NOTE) == 1
    assert "spot after-hours print at 19:59 ET" in view.notes
    plain = replace(chain, notes=())
    st = SymbolState(symbol=chain.symbol, chain=plain, analysis=a)
    view = status_view(
        st,
        False,
        feed_name="schwab",
        data_now=chain.as_of,
        mono=0.0,
        paused=False,
        recording=False,
    )
    assert view.notes[0] == "spot after-hours print at 19:59 ET"
