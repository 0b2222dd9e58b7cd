"""`[alerts]`: the documented defaults, typed settings, and bad values refused with one
line naming the key (exit 2 from the real `hedgeflow monitor`, before any screen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hedgeflow.app.alert_center import check_environment
from hedgeflow.app.alert_rules import AlertRules
from hedgeflow.app.config import (
    DEFAULTS,
    AlertSettings,
    ConfigError,
    Settings,
    default_settings,
    merge_config,
)
from tests.test_cli_monitor import _config, assert_refused, cold_env  # noqa: F401 (fixture)


def test_the_defaults_are_the_documented_rules() -> None:
    a = default_settings().alerts
    assert a == AlertSettings()
    assert a.rules == AlertRules(flip_margin_bp=2.0, regime_min_bands=0.0, cooldown_seconds=300.0)
    assert a.hook == () and a.webhook_url == "" and a.queue_size == 100


def test_a_user_table_is_typed() -> None:
    merged = merge_config(
        {
            "alerts": {
                "zone": False,
                "flip_margin_bp": 5,
                "regime_min_bands": 1,
                "cooldown_seconds": 60,
                "hook": ["notify-send", "hedgeflow"],
                "webhook_url": "https://example.com/h",
                "webhook_token_env": "HF_TOKEN",
                "webhook_attempts": 2,
            }
        }
    )
    a = Settings.from_mapping(merged, "test").alerts
    assert a.rules == AlertRules(
        zone=False, flip_margin_bp=5.0, regime_min_bands=1.0, cooldown_seconds=60.0
    )
    assert a.hook == ("notify-send", "hedgeflow") and a.webhook_attempts == 2
    assert DEFAULTS["alerts"]["hook"] == []  # the defaults are not changed by a merge


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"flip_margin_bp": -1}, "alerts.flip_margin_bp"),
        ({"regime_min_bands": "firm"}, "alerts.regime_min_bands"),
        ({"cooldown_seconds": float("nan")}, "alerts.cooldown_seconds"),
        ({"regime": "yes"}, "alerts.regime"),
        ({"hook": "notify-send hedgeflow"}, "alerts.hook"),
        ({"hook": ["ok", ""]}, "alerts.hook"),
        ({"hook_timeout": 0}, "alerts.hook_timeout"),
        ({"webhook_url": "ftp://example.com"}, "alerts.webhook_url"),
        ({"webhook_token_env": "MY TOKEN"}, "alerts.webhook_token_env"),
        ({"webhook_attempts": 0}, "alerts.webhook_attempts"),
        ({"queue_size": 1.5}, "alerts.queue_size"),
        ({"cooldown": 5}, "alerts.cooldown"),
    ],
)
def test_bad_values_name_their_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        merge_config({"alerts": table})


def test_what_would_fail_every_delivery_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError, match="alerts.hook.*no-such-hook-cmd"):
        check_environment(AlertSettings(hook=("no-such-hook-cmd",)))
    monkeypatch.delenv("HF_UNSET_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="alerts.webhook_token_env.*HF_UNSET_TOKEN"):
        check_environment(
            AlertSettings(webhook_url="https://x.example/h", webhook_token_env="HF_UNSET_TOKEN")
        )
    monkeypatch.setenv("HF_UNSET_TOKEN", "value-not-said")
    check_environment(
        AlertSettings(webhook_url="https://x.example/h", webhook_token_env="HF_UNSET_TOKEN")
    )


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[alerts]\nflip_margin_bp = -3\n", ("config.toml", "alerts.flip_margin_bp")),
        ("[alerts]\nhook = 'notify-send hi'\n", ("alerts.hook",)),
        ("[alerts]\nhook = ['no-such-hook-cmd']\n", ("alerts.hook", "no-such-hook-cmd")),
        ("[alerts]\nbel = true\n", ("alerts.bel",)),
    ],
    ids=["negative-margin", "hook-string", "hook-missing", "unknown-key"],
)
def test_the_monitor_refuses_a_bad_alerts_table(
    tmp_path: Path,
    cold_env: dict[str, str],  # noqa: F811 (the imported fixture)
    text: str,
    names: tuple[str, ...],
) -> None:
    cfg = _config(tmp_path, text + "\n[feeds.sim]\nstart = '2025-06-10T11:00:00-04:00'\n")
    assert_refused(["monitor", "--config", cfg], cold_env, *names)
