"""The monitor's alerts, headless: the gate's rules, the log and delivery in one place, so
that the TUI only shows what `step` returns and opens the log (`hedgeflow.tui.alertlog`).

`step` runs on the event loop for every analysis applied; it never blocks: a delivery is
a queue append, run on the channel's own thread (`hedgeflow.app.alert_delivery`).
`on_delivery(record, channel, error)` is called from those threads after the log has the
new status (error None: delivered); the caller moves it onto its own loop.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from hedgeflow.app.alert_delivery import (
    DeliveryError,
    DeliveryWorker,
    HookSink,
    WebhookSink,
)
from hedgeflow.app.alert_gate import AlertGate
from hedgeflow.app.alert_log import MAX_ALERTS, AlertLog, AlertRecord, Clock, alert_bytes
from hedgeflow.app.config import AlertSettings, ConfigError
from hedgeflow.app.regime import RegimeTrack
from hedgeflow.engine.types import ExpiryAnalysis

DeliveryCallback = Callable[[AlertRecord, str, DeliveryError | None], None]


def check_environment(settings: AlertSettings) -> None:
    """Refuse at start (ConfigError naming the key) what would make every delivery fail:
    a hook command that is not found, a token variable that is not set. Never says the
    token."""
    if settings.hook and shutil.which(settings.hook[0]) is None:
        raise ConfigError(f"`alerts.hook`: command not found: {settings.hook[0]!r}")
    env = settings.webhook_token_env
    if settings.webhook_url and env and not os.environ.get(env):
        raise ConfigError(
            f"`alerts.webhook_token_env` names {env}, which is not set in the environment"
        )


class AlertCenter:
    """Alerts of the monitor under `settings`; `clock` says which clock their times are on."""

    def __init__(
        self,
        settings: AlertSettings,
        clock: Clock,
        *,
        on_delivery: DeliveryCallback | None = None,
        capacity: int = MAX_ALERTS,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.gate = AlertGate(settings.rules)
        self.log = AlertLog(capacity)
        self.on_delivery = on_delivery
        self.workers: list[DeliveryWorker] = []
        if settings.hook:
            self.workers.append(
                DeliveryWorker(
                    HookSink(settings.hook, settings.hook_timeout),
                    settings.queue_size,
                    self._status,
                )
            )
        if settings.webhook_url:
            sink = WebhookSink(
                settings.webhook_url,
                token_env=settings.webhook_token_env,
                timeout=settings.webhook_timeout,
                attempts=settings.webhook_attempts,
            )
            self.workers.append(DeliveryWorker(sink, settings.queue_size, self._status))

    @property
    def dropped(self) -> int:
        """Alerts dropped from full delivery queues, all channels."""
        return sum(w.dropped for w in self.workers)

    def step(
        self,
        prev: ExpiryAnalysis | None,
        cur: ExpiryAnalysis,
        before: RegimeTrack | None,
        after: RegimeTrack | None,
    ) -> list[AlertRecord]:
        """Log the alerts of going from `prev` to `cur` and queue their delivery; returns
        the ones to show (the cooldown's are logged only)."""
        shown = []
        for d in self.gate.step(prev, cur, before, after):
            if d.suppressed is not None:
                self.log.add(d.alert, self.clock, d.suppressed)
                continue
            channels = (("screen", "shown"), *((w.name, "queued") for w in self.workers))
            rec = self.log.add(d.alert, self.clock, None, channels)
            if self.workers:
                payload = alert_bytes(rec)
                for w in self.workers:
                    w.submit(rec.seq, payload)
            shown.append(rec)
        return shown

    def _status(self, seq: int, channel: str, status: str, error: DeliveryError | None) -> None:
        self.log.set_status(seq, channel, status)
        rec = self.log.get(seq)
        if self.on_delivery is not None and rec is not None:
            self.on_delivery(rec, channel, error)

    def close(self) -> None:
        """Stop the delivery threads (a running hook is killed)."""
        for w in self.workers:
            w.close()
