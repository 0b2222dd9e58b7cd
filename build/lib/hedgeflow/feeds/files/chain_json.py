"""The two JSON chain formats: CBOE delayed-quotes JSON (parsed by
`hedgeflow.feeds.cboe.parse_cboe_json`, imported lazily) and the normalized chain JSON
(docs/CHAIN_FORMAT.md), which `write_chain_json` writes."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path

from hedgeflow.engine.chain import OptionChain, chain_from_dict, chain_to_dict
from hedgeflow.engine.clock import NY
from hedgeflow.feeds.errors import FeedError
from hedgeflow.feeds.files.errors import ChainFileError


def write_chain_json(chain: OptionChain, path: str | os.PathLike[str]) -> None:
    """Write `chain` as normalized chain JSON (docs/CHAIN_FORMAT.md), atomically: a reader
    never sees half a file."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(json.dumps(chain_to_dict(chain), allow_nan=False), encoding="utf-8")
    os.replace(tmp, p)


def parse_json(text: str, name: str, symbol: str | None) -> OptionChain:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ChainFileError(
            name, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise ChainFileError(name, "invalid JSON: nested too deeply") from None
    if isinstance(payload, Mapping) and payload.get("format") == "hedgeflow.chain":
        try:
            chain = chain_from_dict(payload)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise ChainFileError(name, f"bad hedgeflow chain JSON: {exc}") from None
        # Same instant; shown in New York like every other file chain.
        chain = dataclasses.replace(chain, as_of=chain.as_of.astimezone(NY))
        if symbol:
            chain = dataclasses.replace(chain, symbol=symbol.upper())
        return chain
    if (
        isinstance(payload, Mapping)
        and isinstance(payload.get("data"), Mapping)
        and "options" in payload["data"]
    ):
        try:
            from hedgeflow.feeds.cboe import parse_cboe_json
        except ImportError as exc:
            raise ChainFileError(
                name, f"CBOE JSON needs feeds.cboe, which cannot be imported ({exc})"
            ) from None
        try:
            chain = parse_cboe_json(payload, symbol=symbol)
        except FeedError as exc:
            raise ChainFileError(name, f"bad CBOE JSON: {exc.message}") from None
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise ChainFileError(name, f"bad CBOE JSON: {exc}") from None
        return dataclasses.replace(chain, source=name)
    raise ChainFileError(
        name,
        "JSON but neither a hedgeflow chain (`format`) nor a CBOE options file (`data.options`)",
    )
