"""The password check and the failure backoff, without sockets."""

from __future__ import annotations

import pytest

from conexion_server.cli import UsageError, build_parser, config_from_args, read_password
from conexion_server.guard import FailureBackoff, password_ok


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_password_configured_accepts_anything() -> None:
    assert password_ok(None, None)
    assert password_ok(None, "whatever")


@pytest.mark.parametrize(
    ("given", "ok"),
    [
        ("pässwörd", True),
        (None, False),
        ("", False),
        ("pässwörd ", False),
        ("PÄSSWÖRD", False),
        ("pässwör", False),
        ("passwort\udcff", False),  # a lone surrogate must not raise
    ],
)
def test_password_comparison(given: str | None, ok: bool) -> None:
    assert password_ok("pässwörd".encode(), given) is ok


def test_backoff_grows_along_the_schedule_and_repeats_the_last_delay() -> None:
    backoff = FailureBackoff((0.0, 1.0, 4.0), forget_after=60, max_addresses=10, clock=FakeClock())
    assert [backoff.failed("10.0.0.1") for _ in range(5)] == [0.0, 1.0, 4.0, 4.0, 4.0]
    assert backoff.failures("10.0.0.1") == 5
    assert backoff.failed("10.0.0.2") == 0.0  # another address has its own count


def test_backoff_forgets_after_a_quiet_while_and_after_success() -> None:
    clock = FakeClock()
    backoff = FailureBackoff((0.0, 1.0), forget_after=60, max_addresses=10, clock=clock)
    backoff.failed("a")
    clock.now += 59
    assert backoff.failed("a") == 1.0
    clock.now += 60
    assert backoff.failed("a") == 0.0
    backoff.failed("a")
    backoff.succeeded("a")
    assert backoff.failures("a") == 0


def test_backoff_tracks_a_bounded_number_of_addresses() -> None:
    backoff = FailureBackoff((0.0, 1.0), forget_after=60, max_addresses=100, clock=FakeClock())
    for i in range(10_000):
        backoff.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(backoff) == 100
    # The most recent addresses are the ones kept.
    assert backoff.failures("10.0.39.15") == 1
    assert backoff.failures("10.0.0.0") == 0


def test_password_file_first_line_without_its_line_ending(tmp_path) -> None:
    path = tmp_path / "pw"
    path.write_bytes(b"  two words \r\nsecond line\n")
    assert read_password(str(path), "from-env") == b"  two words "
    assert read_password(None, "from-env") == b"from-env"
    assert read_password(None, None) is None
    assert read_password(None, "") is None


def test_password_file_problems_are_usage_errors(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"\n")
    with pytest.raises(UsageError, match="empty"):
        read_password(str(empty), None)
    with pytest.raises(UsageError, match="cannot read"):
        read_password(str(tmp_path / "missing"), None)


def test_security_options_reach_the_config(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CONEXION_PASSWORD", raising=False)
    path = tmp_path / "pw"
    path.write_text("hunter2\n")
    args = build_parser().parse_args(
        ["--password-file", str(path), "--hello-timeout", "5", "--max-per-address", "8"]
    )
    config = config_from_args(args)
    assert config.password == b"hunter2"
    assert (config.hello_timeout, config.max_per_address) == (5.0, 8)
    assert "hunter2" not in repr(config)


def test_env_password_and_defaults(monkeypatch) -> None:
    monkeypatch.setenv("CONEXION_PASSWORD", "from env")
    config = config_from_args(build_parser().parse_args([]))
    assert config.password == b"from env"
    assert (config.hello_timeout, config.max_per_address) == (30.0, 64)
    assert config.tls_cert is None


def test_tls_cert_without_key_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="together"):
        config_from_args(build_parser().parse_args(["--tls-cert", "x.pem"]))


def test_log_throttle_says_a_kind_once_a_period_and_counts_the_rest() -> None:
    from conexion_server.guard import LogThrottle

    now = [0.0]
    quiet = LogThrottle(10.0, max_keys=2, clock=lambda: now[0])
    assert quiet.allow("a") == 0
    assert [quiet.allow("a") for _ in range(3)] == [None, None, None]
    assert quiet.allow("b") == 0  # another kind is its own
    now[0] = 10.0
    assert quiet.allow("a") == 3  # said again, with the three held back
    assert quiet.allow("a") is None
    quiet.allow("c")  # a third kind: the oldest one is forgotten
    now[0] = 11.0
    assert quiet.allow("b") == 0
