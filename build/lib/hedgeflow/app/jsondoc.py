"""The published JSON document of one analysis (docs/analysis.schema.json, docs/JSON_SCHEMA.md).

`hedgeflow analyze --json` prints it and the monitor's export (`app/export.py`) writes it.
It is the engine's `ExpiryAnalysis` as plain data (`engine.jsonable.to_jsonable`) with
the fields whose engine name says less than what they hold renamed, so that one name
means one thing with one unit across the document:

- `exposure.gamma/vanna/charm/delta` are per-strike dollar exposures: `gex`, `vex`, `cex`,
  `dex` ($ per +1 % spot, $ per vol point, $ per calendar day, $ of underlying), also
  inside `calls` and `puts`;
- the impulse curve's `gamma`, `vanna`, `impulse` (and `impulse_at_spot`,
  `slope_at_spot`) are densities in price on the physical curve ($ per +1 % per point)
  and kernel averages on the floe curve ($ per +1 %, $ per vol point): each model's
  curve names them by what they are (`gex_density`, `vanna_term_density`, ... against
  `gex_kernel_average`, `vex_kernel_average`, ...);
- the curve's `spot_vol_coupling` is, on the physical curve, the fixed-strike coupling
  read off the smoothed smile at the forward (`coupling_fixed_strike_smile_at_forward`,
  next to `regime_params.coupling_fixed_strike`, which is read off the ATM quadratic
  fit), and on the floe curve floe's k (`coupling_atm`, equal to
  `regime_params.coupling_atm`);
- the floe profile's per-level `hedge_contracts` and `expected_hedge_contracts` carry
  floe's sign (positive where H > 0), the opposite of the dealers' trade that every
  other contract figure gives: they are `floe_hedge_contracts` and
  `floe_expected_hedge_contracts`.

Why here and not in `engine/types.py`: the engine's names are internal and documented
field by field in its docstrings; the JSON is the contract users script against, so the
renaming is done once, at the one place both outputs share, without moving every
engine user (and the floe port's number-by-number tests) to new names.
"""

from __future__ import annotations

from typing import Any

from hedgeflow.engine.enums import EngineModel
from hedgeflow.engine.jsonable import to_jsonable
from hedgeflow.engine.types import ExpiryAnalysis

_EXPOSURE = {"gamma": "gex", "vanna": "vex", "charm": "cex", "delta": "dex"}
_PHYSICAL_CURVE = {
    "gamma": "gex_density",
    "vanna": "vanna_term_density",
    "impulse": "impulse_density",
    "impulse_at_spot": "impulse_density_at_spot",
    "slope_at_spot": "impulse_density_slope_at_spot",
    "spot_vol_coupling": "coupling_fixed_strike_smile_at_forward",
}
_FLOE_LEVELS = {
    "hedge_contracts": "floe_hedge_contracts",
    "expected_hedge_contracts": "floe_expected_hedge_contracts",
}
_FLOE_CURVE = {
    "gamma": "gex_kernel_average",
    "vanna": "vex_kernel_average",
    "impulse": "impulse_kernel_average",
    "impulse_at_spot": "impulse_kernel_average_at_spot",
    "slope_at_spot": "impulse_kernel_average_slope_at_spot",
    "spot_vol_coupling": "coupling_atm",
}


def _renamed(d: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """`d` with its keys renamed by `names`, in the original order."""
    return {names.get(k, k): v for k, v in d.items()}


def analysis_document(a: ExpiryAnalysis) -> dict[str, Any]:
    """The analysis as the JSON-ready dict the schema describes (NaN as None)."""
    doc: dict[str, Any] = to_jsonable(a)
    doc["exposure"] = _renamed(doc["exposure"], _EXPOSURE)
    for side in ("calls", "puts"):
        if doc["exposure"][side] is not None:
            doc["exposure"][side] = _renamed(doc["exposure"][side], _EXPOSURE)
    floe = a.hedge_flow.model is EngineModel.FLOE
    hf = doc["hedge_flow"]
    hf["impulse_curve"] = _renamed(hf["impulse_curve"], _FLOE_CURVE if floe else _PHYSICAL_CURVE)
    if floe:
        cloud = doc["pressure_cloud"]
        cloud["levels"] = _renamed(cloud["levels"], _FLOE_LEVELS)
    return doc
