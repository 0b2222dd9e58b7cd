"""Messages the poll workers post to the App (thread-safe `post_message`). Engine runs
report through their worker's state instead (one dispatch, see `HedgeflowApp`). The replay
transport posts `TapeMoved` when the tape is seeked or stepped."""

from __future__ import annotations

from datetime import datetime

from textual.message import Message

from hedgeflow.engine.chain import OptionChain


class SnapshotArrived(Message):
    """A poll fetched a snapshot of `symbol` at feed time `fetched_at`.

    Coalesced per symbol: while the App is busy, a newer snapshot of the same symbol
    replaces a queued older one, so a slow repaint never works through a backlog."""

    def __init__(self, symbol: str, chain: OptionChain, fetched_at: datetime) -> None:
        super().__init__()
        self.symbol = symbol
        self.chain = chain
        self.fetched_at = fetched_at

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotArrived) and message.symbol == self.symbol


class TapeMoved(Message):
    """The replay tape was seeked or stepped (not merely played on): its clock is now
    `clock` (aware, recorded time), `backward` when that is earlier than before.

    Posted to the App before the snapshot at the new position, so that whatever keeps a
    history of analyses can drop what lies after `clock` (and, when `backward`, rebuild
    up to it) before the next analysis arrives."""

    def __init__(self, clock: datetime, backward: bool) -> None:
        super().__init__()
        self.clock = clock
        self.backward = backward
