"""Results as plain JSON-ready data: dataclasses to dicts, arrays to lists, NaN to None."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from enum import Enum
from typing import Any

import numpy as np


def to_jsonable(obj: Any) -> Any:
    """Recursively convert engine results. Non-finite floats become None (JSON has no NaN);
    datetimes become ISO-8601 with offset; enums their value."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            return [None if not math.isfinite(v) else v for v in obj.astype(float).tolist()]
        return obj.tolist()
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj
