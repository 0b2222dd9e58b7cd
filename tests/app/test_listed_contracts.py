"""No listed contract is dropped silently (issue 10, item 1), on real CBOE files.

1. A series listed on an exchange holiday settles with the previous session's series. None
   of the shared files lists one on this calendar, so the real SPX 2020-03-22 file is given
   one the way CBOE lists it: its Thursday 2020-04-09 SPXW series listed again on Good
   Friday 2020-04-10 (SPXW200410...). Both settle Thursday at the close; the old reader
   dropped the Friday rows as "duplicates". Their open interest must be in the analysis and
   the all-expiry net GEX must move by exactly that series' gamma.
2. A contract dropped with open interest (an adjusted root, a repeated row) is a note in
   `analyze` (text and JSON), first, with the open interest it carried.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from hedgeflow.app.presentation import status_notes
from hedgeflow.cli import main
from hedgeflow.engine.config import EngineConfig
from hedgeflow.engine.pipeline import DROPPED_OI, analyze_chain, build_books
from hedgeflow.engine.reprice import zero_gamma_profile
from hedgeflow.feeds.files import read_chain_file

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
SPX_2020 = REAL / "spx_quotedata_2020-03-22.dat"
SPY_2023 = REAL / "spy_quotedata_2023-09-14.csv"


def _with_good_friday_series(tmp_path: Path) -> tuple[Path, float]:
    """The 2020 file plus its 04/09/2020 SPXW rows listed on 04/10/2020; and their OI."""
    raw = SPX_2020.read_bytes().decode("ascii")
    lines = raw.split("\r\n")
    thursday = [ln for ln in lines if ln.startswith("04/09/2020,SPXW200409")]
    assert len(thursday) == 339
    friday = [
        ln.replace("04/09/2020,", "04/10/2020,", 1).replace("SPXW200409", "SPXW200410")
        for ln in thursday
    ]
    oi = sum(float(f.split(",")[10]) + float(f.split(",")[21]) for f in friday)
    path = tmp_path / "spx_quotedata_2020-03-22_good_friday.dat"
    path.write_bytes("\r\n".join([*lines[:-1], *friday, lines[-1]]).encode("ascii"))
    return path, oi


def test_good_friday_series_keeps_its_open_interest_on_a_real_file(tmp_path: Path) -> None:
    path, friday_oi = _with_good_friday_series(tmp_path)
    assert friday_oi > 50_000  # a real series' open interest, not a token amount
    base, chain = read_chain_file(SPX_2020), read_chain_file(path)
    assert len(chain) == len(base)  # merged into the Thursday contracts, none dropped
    assert chain.dropped.get("duplicate", 0) == 0
    assert chain.dropped["merged_same_settlement"] == 2 * 339
    assert chain.open_interest.sum() == pytest.approx(base.open_interest.sum() + friday_oi)
    assert chain.dropped_open_interest == {}

    config = EngineConfig()
    books0, _ = build_books(base, config)
    books1, _ = build_books(chain, config)
    thursday = [e for e in books0 if books0[e].expiration.date().isoformat() == "2020-04-09"]
    assert len(thursday) == 1
    b0, b1 = books0[thursday[0]], books1[thursday[0]]
    np.testing.assert_allclose(b1.position, 2.0 * b0.position)  # same quotes, twice the OI
    # the all-expiry net GEX (fixed IV, gamma only) moves by that series' own line
    spot = base.spot
    grid = spot * np.linspace(0.9, 1.1, 41)
    line0, _ = zero_gamma_profile(list(books0.values()), grid)
    line1, _ = zero_gamma_profile(list(books1.values()), grid)
    own, _ = zero_gamma_profile([b0], grid)
    assert np.abs(own).max() > 0.005 * np.abs(line0).max()  # about 1 % of the total here
    np.testing.assert_allclose(line1 - line0, own, rtol=1e-9, atol=1e-9 * np.abs(line0).max())

    # and the analysis the user sees carries it (its zero-gamma line on the plotted grid)
    a0, a1 = analyze_chain(base), analyze_chain(chain)
    assert a0.repriced is not None and a1.repriced is not None
    own_plotted, _ = zero_gamma_profile([b0], a0.repriced.zero_gamma_price)
    np.testing.assert_allclose(
        a1.repriced.zero_gamma - a0.repriced.zero_gamma,
        own_plotted,
        rtol=1e-9,
        atol=1e-9 * np.abs(a0.repriced.zero_gamma).max(),
    )
    assert any("holiday-moved expiration" in n for n in a1.notes)
    assert DROPPED_OI not in a1.diagnostics


def _with_dropped_contracts(tmp_path: Path) -> tuple[Path, float]:
    """The SPY file with the Sep 15 450 call on an adjusted root (SPY1: unknown
    deliverable, dropped) and the 451 row repeated (a duplicate); the OI they carry."""
    lines = SPY_2023.read_text().split("\n")
    i450 = next(i for i, ln in enumerate(lines) if ",SPY230915C00450000," in ln)
    i451 = next(i for i, ln in enumerate(lines) if ",SPY230915C00451000," in ln)
    lines[i450] = lines[i450].replace("SPY230915C00450000", "SPY1230915C00450000")
    lines.insert(i451 + 1, lines[i451])
    adjusted = float(lines[i450].split(",")[10])
    repeated = float(lines[i451].split(",")[10]) + float(lines[i451].split(",")[21])
    path = tmp_path / "spy_quotedata_2023-09-14_dropped.csv"
    path.write_text("\n".join(lines))
    return path, adjusted + repeated


def test_dropped_open_interest_is_the_first_note_in_text_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, lost = _with_dropped_contracts(tmp_path)
    assert lost == 77508 + 20243 + 7379
    chain = read_chain_file(path)
    assert chain.dropped_open_interest == {"nonstandard_root": 77508.0, "duplicate": 27622.0}

    assert main(["analyze", str(path)]) == 0
    text = capsys.readouterr().out
    notes = re.findall(r"^note +(.*)$", text, flags=re.MULTILINE)
    assert notes[0] == (
        "105,130 open interest left out with dropped contracts: "
        "1 nonstandard root (77,508), 2 duplicate (27,622)"
    )

    assert main(["analyze", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["notes"][0] == notes[0]
    assert data["diagnostics"][DROPPED_OI] == 105_130
    assert data["diagnostics"]["dropped: nonstandard_root"] == 1

    # the status line's order: the left-out open interest before the after-hours spot note
    a = analyze_chain(chain)
    assert chain.spot_note.startswith("stale")
    shown = status_notes(a, chain.spot_note)
    assert shown[0] == notes[0] and shown[1] == f"spot {chain.spot_note}"


def test_a_clean_real_file_has_no_such_note(capsys: pytest.CaptureFixture[str]) -> None:
    a = analyze_chain(read_chain_file(SPY_2023))
    assert DROPPED_OI not in a.diagnostics
    assert not any("left out" in n for n in a.notes)
    assert status_notes(a, "stale (market closed)")[0] == "spot stale (market closed)"
