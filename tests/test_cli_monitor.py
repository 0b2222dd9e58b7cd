"""The real `hedgeflow monitor` and `replay`: what they refuse, and what they watch.

Bad input is refused before any screen is drawn.
Each case runs `python -m hedgeflow.cli` with its standard input and output on a real
pseudo-terminal (so that a monitor that wrongly starts would take it over) and its standard
error on a pipe: exit code 2, exactly one line on stderr naming the problem, no traceback,
nothing written to the terminal (no alternate screen, no escape sequence) and the
terminal's modes as they were. HOME and the XDG folders point at a per-session folder, so
no cache or config of the machine takes part.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench.chains import AS_OF, spx_like_chain
from hedgeflow.feeds.recorder import Recorder

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "data" / "real"
SPY_CSV = REAL / "spy_quotedata_2023-09-14.csv"


@pytest.fixture(scope="session")
def cold_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("cold-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    for name in ("home", "cache", "state", "config", "data"):
        (base / name).mkdir()
    env.update(
        HOME=str(base / "home"),
        XDG_CACHE_HOME=str(base / "cache"),
        XDG_STATE_HOME=str(base / "state"),
        XDG_CONFIG_HOME=str(base / "config"),
        XDG_DATA_HOME=str(base / "data"),
        TERM="xterm-256color",
        PYTHONPATH=str(ROOT),
    )
    return env


def run_in_terminal(
    argv: list[str], env: dict[str, str], timeout: float = 90.0
) -> tuple[int, str, bytes, bool]:
    """(exit code, stderr, bytes written to the terminal, terminal modes unchanged)."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hedgeflow.cli", *argv],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    screen = b""
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                screen += os.read(master, 65536)
        if proc.poll() is None:  # it started something: stop it, the test fails below
            proc.kill()
        _, err = proc.communicate(timeout=30)
        while select.select([master], [], [], 0)[0]:
            try:
                screen += os.read(master, 65536)
            except OSError:
                break
        unchanged = termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)
    return proc.returncode, err.decode("utf-8", "replace"), screen, unchanged


def assert_refused(argv: list[str], env: dict[str, str], *names: str) -> str:
    code, err, screen, unchanged = run_in_terminal(argv, env)
    assert code == 2, (code, err[-3000:], screen[-500:])
    assert "Traceback" not in err, err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-3000:]
    # No screen, not even the alternate-screen switch (Textual draws on stderr when it may)
    assert screen == b"" and "\x1b" not in err, (screen[-500:], err[-500:])
    assert unchanged
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


def _config(tmp_path: Path, text: str | bytes, name: str = "config.toml") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def _recording(path: Path, symbols: tuple[str, ...] = ("SPX",)) -> Path:
    chain = spx_like_chain(n_expiries=1, seed=5)
    with Recorder(path) as rec:
        for i in range(4):
            for sym in symbols:
                snap = replace(chain, symbol=sym, spot=chain.spot + i)
                rec.write(snap, feed="test", fetched_at=AS_OF.timestamp() + 60 * i)
    return path


# ------------------------------------------------------------------ monitor: files


def test_monitor_on_a_missing_file(tmp_path: Path, cold_env: dict[str, str]) -> None:
    missing = tmp_path / "missing.csv"
    assert_refused(["monitor", "--feed", "file", "--path", str(missing)], cold_env, "missing.csv")


def test_monitor_on_a_truncated_file(tmp_path: Path, cold_env: dict[str, str]) -> None:
    text = SPY_CSV.read_bytes()
    cut = tmp_path / "cut.csv"
    cut.write_bytes(text[: len(text) // 3])  # ends in the middle of a row
    assert_refused(["monitor", "--feed", "file", "--path", str(cut)], cold_env, "cut.csv")


def test_monitor_on_a_file_without_the_symbol(tmp_path: Path, cold_env: dict[str, str]) -> None:
    line = assert_refused(
        ["monitor", "--feed", "file", "--path", str(SPY_CSV), "--symbols", "SPY,QQQ"],
        cold_env,
        "QQQ",
    )
    assert "SPY" in line  # what the file does hold


# ------------------------------------------------------------------ replay: recordings


def test_replay_of_a_missing_recording(tmp_path: Path, cold_env: dict[str, str]) -> None:
    assert_refused(["replay", str(tmp_path / "gone.sqlite")], cold_env, "gone.sqlite")


DAMAGES = ["zero-byte", "truncated", "not-sqlite", "other-schema"]


def _damaged(tmp_path: Path, damage: str) -> Path:
    path = tmp_path / f"{damage}.sqlite"
    if damage == "zero-byte":
        path.write_bytes(b"")
    elif damage == "truncated":
        data = _recording(tmp_path / "good.sqlite").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not-sqlite":
        path.write_bytes(SPY_CSV.read_bytes()[:5000])
    else:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE quotes (ts REAL, bid REAL, ask REAL)")
            db.execute("INSERT INTO quotes VALUES (1, 2, 3)")
    return path


@pytest.mark.parametrize("damage", DAMAGES)
def test_replay_of_a_bad_recording(tmp_path: Path, cold_env: dict[str, str], damage: str) -> None:
    path = _damaged(tmp_path, damage)
    assert_refused(["replay", str(path)], cold_env, path.name)


@pytest.mark.parametrize("damage", DAMAGES)
def test_analyze_of_a_bad_recording(tmp_path: Path, cold_env: dict[str, str], damage: str) -> None:
    path = _damaged(tmp_path, damage)
    proc = subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", "analyze", "--feed", "replay"]
        + ["--symbol", "SPX", "--path", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=cold_env,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and path.name in lines[0], proc.stderr[-3000:]


def test_replay_of_a_symbol_not_recorded(tmp_path: Path, cold_env: dict[str, str]) -> None:
    rec = _recording(tmp_path / "rec.sqlite", ("SPX", "QQQ"))
    line = assert_refused(["replay", str(rec), "--symbols", "SPX,IWM"], cold_env, "IWM")
    assert "QQQ" in line and "SPX" in line


def test_monitor_on_a_symbol_the_sim_does_not_list(
    tmp_path: Path, cold_env: dict[str, str]
) -> None:
    """The sim serves any ticker unless `feeds.sim.symbols` lists its own."""
    cfg = _config(tmp_path, "[feeds.sim]\nsymbols = ['SPX', 'SPY']\n")
    line = assert_refused(
        ["monitor", "--config", cfg, "--feed", "sim", "--symbols", "SPX,FOO"], cold_env, "FOO"
    )
    assert "SPX, SPY" in line
    assert_refused(["monitor", "--feed", "sim", "--symbols", "SPX,FOO1"], cold_env, "FOO1")


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[monitor]\npoll_intervall = 5\n", ("config.toml", "monitor.poll_intervall")),
        # a section of a feed that is not used is checked all the same
        ("[feeds.tradier]\ntokn_env = 'X'\n", ("config.toml", "feeds.tradier.tokn_env")),
        ("[monitor]\npoll_interval = 1e-9\n", ("config.toml", "monitor.poll_interval", "0.05")),
        ("[monitor]\npoll_interval = 1e300\n", ("config.toml", "monitor.poll_interval", "86400")),
        ("[monitor]\nsymbols = ['SPX', 'FOO-1']\n", ("monitor.symbols", "FOO-1")),
        ("[colors]\nstale = 'not-a-colour'\n", ("colors.stale",)),
        ("[keymap]\nnext-expiri = 'n'\n", ("keymap.next-expiri",)),
        # x quit the monitor where the help screen said it exports
        ("[keymap]\nquit = 'x'\n", ("keymap.quit", "'x'", "export")),
    ],
    ids=[
        "key",
        "unused-feed-key",
        "interval-tiny",
        "interval-huge",
        "sim-symbols",
        "color",
        "keymap",
        "keymap-conflict",
    ],
)
def test_monitor_with_a_bad_config(
    tmp_path: Path, cold_env: dict[str, str], text: str, names: tuple[str, ...]
) -> None:
    # a fixed sim clock: the same start on any day of the week
    cfg = _config(tmp_path, text + "\n[feeds.sim]\nstart = '2025-06-10T11:00:00-04:00'\n")
    assert_refused(["monitor", "--config", cfg], cold_env, *names)


def test_monitor_with_a_non_utf8_config(tmp_path: Path, cold_env: dict[str, str]) -> None:
    cfg = _config(
        tmp_path, "# caf\xe9 config in Latin-1\n[monitor]\nbell = true\n".encode("latin-1")
    )
    assert_refused(["monitor", "--config", cfg], cold_env, "config.toml", "UTF-8", "line 1")


def test_monitor_with_a_directory_as_log_file(tmp_path: Path, cold_env: dict[str, str]) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    cfg = _config(
        tmp_path,
        f"[monitor]\nlog_file = {str(logs)!r}\n[feeds.sim]\nstart = '2025-06-10T11:00:00-04:00'\n",
    )
    assert_refused(["monitor", "--config", cfg], cold_env, "monitor.log_file", str(logs))


@pytest.mark.parametrize("value", ["nan", "1e300", "1e-9", "inf", "fast"])
def test_interval_out_of_range(cold_env: dict[str, str], value: str) -> None:
    line = assert_refused(["monitor", "--interval", value], cold_env, "--interval", value)
    if value != "fast":
        assert "0.05" in line and "86400" in line


def test_replay_and_record_check_the_interval_too(tmp_path: Path, cold_env: dict[str, str]) -> None:
    rec = _recording(tmp_path / "rec.sqlite")
    assert_refused(["replay", str(rec), "--interval", "nan"], cold_env, "--interval")
    assert_refused(["record", "--interval", "1e-9"], cold_env, "--interval")


# ------------------------------------------------------------------ what is watched


ESCAPES = re.compile(r"\x1b\[[0-9;?<>=$]*[A-Za-z~]|\x1b[\]P][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.")


def screen_text(screen: bytes) -> str:
    """What was drawn, without the escape sequences (cursor moves, colors)."""
    return ESCAPES.sub("", screen.decode("utf-8", "replace"))


def run_monitor_until(
    argv: list[str], env: dict[str, str], seen: str, timeout: float = 60.0, linger: float = 2.0
) -> tuple[int | None, str]:
    """Run the real monitor on a pseudo-terminal until `seen` is on the screen, `linger`
    seconds more (several polls at --interval 0.5), then press q. Returns (exit code, the
    text drawn)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hedgeflow.cli", *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    screen = b""
    deadline = time.monotonic() + timeout
    quit_at: float | None = None
    quit_sent = False
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    screen += os.read(master, 65536)
                except OSError:
                    break
            if quit_at is None and seen in screen_text(screen):
                quit_at = time.monotonic() + linger
            if not quit_sent and quit_at is not None and time.monotonic() >= quit_at:
                os.write(master, b"q")
                quit_sent = True
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    return proc.returncode, screen_text(screen)


def test_the_file_feed_watches_the_files_symbols(cold_env: dict[str, str]) -> None:
    code, screen = run_monitor_until(
        ["monitor", "--feed", "file", "--path", str(SPY_CSV), "--interval", "0.5"],
        cold_env,
        "FILE · SPY",
    )
    assert code == 0, screen[-2000:]
    # the default symbols (SPX, QQQ, NDX, IWM) are not polled: no tab, no error for them
    for other in ("QQQ", "NDX", "IWM", "no file for"):
        assert other not in screen


def test_replay_watches_the_recorded_symbols(tmp_path: Path, cold_env: dict[str, str]) -> None:
    rec = _recording(tmp_path / "rec.sqlite", ("SPX", "QQQ"))
    code, screen = run_monitor_until(
        ["replay", str(rec), "--speed", "0", "--interval", "0.5"], cold_env, "REPLAY · "
    )
    assert code == 0, screen[-2000:]
    assert "SPX" in screen
    for other in ("SPY", "NDX", "IWM"):
        assert other not in screen


def test_replay_symbols_narrow_the_recording(tmp_path: Path, cold_env: dict[str, str]) -> None:
    rec = _recording(tmp_path / "rec.sqlite", ("SPX", "QQQ"))
    code, screen = run_monitor_until(
        ["replay", str(rec), "--speed", "0", "--symbols", "qqq", "--interval", "0.5"],
        cold_env,
        "REPLAY · QQQ",
    )
    assert code == 0, screen[-2000:]
    assert "SPX" not in screen


def test_which_symbols_are_watched() -> None:
    """The rule behind the cases above, on real feeds (none is contacted)."""
    from hedgeflow.app.config import default_settings
    from hedgeflow.cli import CliError
    from hedgeflow.cli.symbols import watch_symbols
    from hedgeflow.feeds.base import open_feed

    settings = default_settings()
    files = open_feed("file", {"path": str(SPY_CSV)})
    assert watch_symbols(files, "file", [], settings) == ["SPY"]  # the file's own
    assert watch_symbols(files, "file", ["SPY"], settings) == ["SPY"]
    with pytest.raises(CliError, match="--symbols: feed 'file' has no QQQ \\(it has SPY\\)"):
        watch_symbols(files, "file", ["SPY", "QQQ"], settings)
    cboe = open_feed("cboe", {})  # a vendor serves whatever is asked
    assert watch_symbols(cboe, "cboe", [], settings) == list(settings.monitor.symbols)
    assert watch_symbols(cboe, "cboe", ["TSLA"], settings) == ["TSLA"]


def test_refusals_come_before_textual_is_imported(tmp_path: Path, cold_env: dict[str, str]) -> None:
    probe = (
        "import sys\nfrom hedgeflow.cli import main\ncode = main(sys.argv[1:])\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'textual'}))"
    )
    for argv in (
        ["monitor", "--feed", "file", "--path", str(tmp_path / "missing.csv")],
        ["monitor", "--config", _config(tmp_path, "[feeds.cboe]\ntimeot = 1\n")],
        ["replay", str(tmp_path / "missing.sqlite")],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", probe, *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env=cold_env,
            cwd=ROOT,
        )
        assert proc.stdout.strip() == "2 []", (argv, proc.stdout, proc.stderr[-2000:])


def test_symbols_option_is_parsed_once_each() -> None:
    from hedgeflow.cli import CliError
    from hedgeflow.cli.symbols import symbol_list

    assert symbol_list(None) == []
    assert symbol_list(" spx, SPY ,spx,") == ["SPX", "SPY"]
    with pytest.raises(CliError, match="--symbols: no symbol"):
        symbol_list(" , ")


# ------------------------------------------------------------------ vendor credentials


def _without_credentials(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(("TRADIER_", "SCHWAB_"))}


@pytest.mark.parametrize(
    ("command", "feed", "variable"),
    [
        ("monitor", "tradier", "TRADIER_TOKEN"),
        ("monitor", "schwab", "SCHWAB_APP_KEY"),
        ("serve", "tradier", "TRADIER_TOKEN"),
    ],
)
def test_a_vendor_feed_without_its_credential_is_refused_before_it_starts(
    command: str, feed: str, variable: str, cold_env: dict[str, str]
) -> None:
    """The monitor opened its screen on a feed whose token was not set, every pane saying
    so and "once it is set, press space twice" (a running process never sees a variable
    set later); `serve` served pages whose every session would do the same."""
    argv = [command, "--feed", feed, "--symbols", "SPX"]
    assert_refused(argv, _without_credentials(cold_env), variable, "missing")


def test_schwab_names_the_one_credential_missing(cold_env: dict[str, str]) -> None:
    env = _without_credentials(cold_env) | {
        "SCHWAB_APP_KEY": "k" * 32,
        "SCHWAB_APP_SECRET": "s" * 16,
    }
    line = assert_refused(["monitor", "--feed", "schwab"], env, "SCHWAB_REFRESH_TOKEN")
    assert "k" * 32 not in line and "s" * 16 not in line


def test_record_without_the_credential_writes_no_recording(
    tmp_path: Path, cold_env: dict[str, str]
) -> None:
    """`record` printed "recording SPX from tradier ..." and left an empty recording
    behind before it failed on the missing token."""
    out = tmp_path / "rec.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", "record", "--feed", "tradier"]
        + ["--symbols", "SPX", "--out", str(out)],
        env=_without_credentials(cold_env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "TRADIER_TOKEN" in proc.stderr and not out.exists()


@pytest.mark.parametrize("where", ["missing-folder", "a-folder", "not-a-recording"])
def test_record_to_a_file_it_cannot_write_prints_nothing_first(
    tmp_path: Path, cold_env: dict[str, str], where: str
) -> None:
    """`record --out` a path it cannot write printed "recording SPX from sim ... to" and
    "stopped: 0 snapshots to" on stdout before the error line."""
    out = {
        "missing-folder": Path("/proc/no-such-folder/rec.sqlite"),
        "a-folder": tmp_path,
        "not-a-recording": tmp_path / "notes.txt",
    }[where]
    if where == "not-a-recording":
        out.write_text("my notes\n" * 100, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "hedgeflow.cli", "record", "--symbols", "SPX", "--out", str(out)],
        env=cold_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "", proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and "Traceback" not in proc.stderr, lines
