"""`conexion-tui` options, environment defaults, the suggested name, and that
`python -m conexion_tui` starts the same program."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from conexion_tui import CLIENT_ID
from conexion_tui.cli import build_parser, servers, suggest_name
from conexion_tui.config import DEFAULT_HOST, DEFAULT_PORT


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CONEXION_HOST", "CONEXION_PORT", "CONEXION_NAME"):
        monkeypatch.delenv(var, raising=False)
    args = build_parser().parse_args([])
    assert (args.port, args.name) == (DEFAULT_PORT, None)
    assert servers(args.host, args.port) == [(DEFAULT_HOST, DEFAULT_PORT)]


def test_environment_gives_defaults_and_options_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONEXION_HOST", "10.0.0.5")
    monkeypatch.setenv("CONEXION_PORT", "9001")
    monkeypatch.setenv("CONEXION_NAME", "ana")
    args = build_parser().parse_args([])
    assert (args.port, args.name) == (9001, "ana")
    assert servers(args.host, args.port) == [("10.0.0.5", 9001)]
    args = build_parser().parse_args(["--host", "127.0.0.1", "--port", "8123", "--name", "bob"])
    assert (args.port, args.name) == (8123, "bob")
    assert servers(args.host, args.port) == [("127.0.0.1", 8123)]


def test_several_hosts_comma_separated_or_repeated() -> None:
    args = build_parser().parse_args(
        ["--host", "a.example,b.example:8001", "--host", "[::1]:8002", "--host", "a.example"]
    )
    assert servers(args.host, 8000) == [
        ("a.example", 8000),
        ("b.example", 8001),
        ("::1", 8002),
    ]
    with pytest.raises(argparse.ArgumentTypeError):
        servers(["a.example:http"], 8000)


def test_data_dir_option_environment_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from conexion_tui.saved import default_folder

    monkeypatch.setenv("CONEXION_DATA_DIR", "/tmp/from-env")
    assert build_parser().parse_args([]).data_dir == "/tmp/from-env"
    assert build_parser().parse_args(["--data-dir", "/tmp/x"]).data_dir == "/tmp/x"
    monkeypatch.delenv("CONEXION_DATA_DIR")
    args = build_parser().parse_args([])
    assert args.data_dir == str(default_folder())
    assert default_folder().name == "conexion-tui"
    assert args.forget_rooms is False
    assert build_parser().parse_args(["--forget-rooms"]).forget_rooms is True


def test_scrollback_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_parser().parse_args([]).scrollback == 100_000
    assert build_parser().parse_args(["--scrollback", "500"]).scrollback == 500
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--scrollback", "0"])
    assert "at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_bad_ports_are_usage_errors(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--port", port])
    assert exc.value.code == 2
    assert "port" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("login", "name"),
    [
        ("ana", "ana"),
        ("John Smith", "JohnSmith"),
        ("_svc-account", "svc-account"),
        ("josé", "josé"),
        ("a" * 40, "a" * 24),
        ("!!!", "guest"),
        ("", "guest"),
        (None, "guest"),
    ],
)
def test_suggested_name_is_always_valid(login: str | None, name: str) -> None:
    assert suggest_name(login) == name


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conexion_tui", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == CLIENT_ID
    done = subprocess.run(
        [sys.executable, "-m", "conexion_tui", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "CONEXION_HOST" in done.stdout
    assert "--name" in done.stdout


def test_tls_options(tmp_path) -> None:
    args = build_parser().parse_args(["--tls"])
    assert (args.tls, args.ca) == (True, None)
    args = build_parser().parse_args(["--ca", str(tmp_path / "ca.pem")])
    assert args.ca.endswith("ca.pem")
    assert "--password" not in build_parser().format_help().replace("CONEXION_PASSWORD", "")


def test_a_missing_ca_file_is_a_usage_error(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "conexion_tui", "--ca", str(tmp_path / "missing.pem")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "cannot use" in proc.stderr
    assert "Traceback" not in proc.stderr
