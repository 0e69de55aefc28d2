"""Options that reach the config, their edges, and the help text."""

from __future__ import annotations

import socket

import pytest

from conexion_server.cli import build_parser, config_from_args
from conexion_server.config import ServerConfig
from tests.peers import until


def parse(*argv: str) -> ServerConfig:
    return config_from_args(build_parser().parse_args(list(argv)))


def test_socket_and_cluster_limits_reach_the_config() -> None:
    config = parse(
        "--keepalive-idle",
        "7",
        "--backlog",
        "50",
        "--cluster-max-log",
        "1000",
        "--presence-ttl",
        "2",
    )
    assert (config.keepalive_idle, config.backlog) == (7, 50)
    assert (config.cluster_max_log, config.presence_ttl) == (1000, 2.0)
    # Refreshed often enough that one late refresh is not a death.
    assert config.presence_refresh <= config.presence_ttl / 5


def test_defaults_are_the_configs() -> None:
    config, default = parse(), ServerConfig()
    assert (config.keepalive_idle, config.backlog) == (default.keepalive_idle, default.backlog)
    assert (config.presence_ttl, config.presence_refresh) == (
        default.presence_ttl,
        default.presence_refresh,
    )


@pytest.mark.parametrize(
    "option", ["--keepalive-idle", "--backlog", "--cluster-max-log", "--presence-ttl"]
)
def test_zero_is_refused(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([option, "0"])
    assert stop.value.code == 2
    assert option in capsys.readouterr().err


def test_help_never_shows_a_default_of_none() -> None:
    text = build_parser().format_help()
    assert "(default: None)" not in text
    assert "(default: keep them all) (default" not in text
    assert "(default: 8000)" in text


@pytest.mark.single_server("reads the socket options of one process's connection")
async def test_keepalive_settings_are_on_every_connection(make_server, connect) -> None:
    server = await make_server(keepalive_idle=7, keepalive_interval=3, keepalive_count=2)
    await connect(server, "ana")
    await until(lambda: len(server.connections) == 1)
    [conn] = server.connections
    assert conn.transport is not None
    sock = conn.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 7
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 3
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 2


def test_room_options_reach_the_hub_config() -> None:
    config = parse(
        "--rooms",
        "#announcements, lab-1",
        "--room-creation",
        "admins",
        "--max-rooms",
        "12",
        "--max-rooms-per-user",
        "4",
        "--presence-limit",
        "300",
        "--text-recap",
        "0",
    )
    hub = config.hub
    assert hub.rooms == ("announcements", "lab-1")
    assert hub.room_creation == "admins"
    assert (hub.max_rooms, hub.max_rooms_per_user, hub.presence_limit) == (12, 4, 300)
    assert config.text_recap == 0


def test_a_bad_room_name_in_rooms_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--rooms", "general,lab 3"])
    assert stop.value.code == 2
    assert "'lab 3': a room name is 1 to 32" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--max-rooms", "--max-rooms-per-user", "--presence-limit"])
def test_room_limits_of_zero_are_refused(option: str) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([option, "0"])


async def test_rooms_given_at_start_exist(make_server, connect) -> None:
    server = await make_server(rooms=("news", "Lab-1"))
    ana = await connect(server, "ana")
    await ana.send(type="rooms")
    listed = [r["room"] for r in (await ana.expect("rooms"))["rooms"]]
    assert listed == ["general", "Lab-1", "news"]
