"""`conexion-server accounts ...`, the operator's command line, on a real
database (with and without a server running on it) and on a real Redis; the
accounts it makes are then used by real clients."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from conexion_server import account_admin
from tests.peers import JsonPeer

PASSWORD = "a teacher's password"


class Operator:
    def __init__(self, where: list[str], tmp_path: Path) -> None:
        self.where = where
        self.tmp_path = tmp_path
        self.asked: list[str] = []

    def run(self, *args: str, answers: tuple[str, ...] = ()) -> tuple[int, str]:
        replies = iter(answers)

        def ask(prompt: str) -> str:
            self.asked.append(prompt)
            return next(replies)

        out = io.StringIO()
        code = account_admin.main([*self.where, *args], ":unused:", out=out, ask=ask)
        return code, out.getvalue()

    def password_file(self, password: str) -> str:
        path = self.tmp_path / "secret.txt"
        path.write_text(password + "\n")
        return str(path)


# The SQLite tests are about one server's file; the cluster has its own below.
pytestmark = pytest.mark.single_server("the operator works on this server's database file")


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "chat.db")


@pytest.fixture
def operator(db: str, tmp_path: Path) -> Operator:
    return Operator(["--db", db], tmp_path)


async def log_in(port: int, name: str, password: str | None) -> dict:
    peer = await JsonPeer.connect(port)
    try:
        frame: dict = {"type": "hello", "name": name, "proto": 1}
        if password is not None:
            frame["account_password"] = password
        await peer.send(**frame)
        return await peer.recv()
    finally:
        await peer.close()


async def test_an_added_account_logs_in_on_a_running_server(make_server, operator, db) -> None:
    server = await make_server(db=db)
    code, out = operator.run("add", "Teacher", "--admin", answers=(PASSWORD, PASSWORD))
    assert (code, out) == (0, "registered Teacher (admin)\n")
    assert operator.asked == ["password for Teacher: ", "Teacher's password again: "]
    assert PASSWORD not in out
    assert (await log_in(server.port, "teacher", None))["code"] == "login_required"
    welcome = await log_in(server.port, "teacher", PASSWORD)
    assert welcome["name"] == "Teacher"
    assert welcome["admin"] is True
    assert welcome.get("temporary_password", False) is False


def test_two_different_answers_change_nothing(operator) -> None:
    code, _ = operator.run("add", "ana", answers=(PASSWORD, PASSWORD + "!"))
    assert code == account_admin.EXIT_USAGE
    assert operator.run("list") == (0, "")


def test_a_weak_password_or_a_bad_name_is_refused(operator) -> None:
    assert operator.run("add", "ana", answers=("short", "short"))[0] == account_admin.EXIT_USAGE
    assert operator.run("add", "no spaces allowed?", "--one-time")[0] == account_admin.EXIT_USAGE
    assert operator.run("list") == (0, "")


def test_a_password_is_never_taken_from_the_command_line(operator) -> None:
    with pytest.raises(SystemExit) as exited:
        operator.run("add", "ana", "--password", PASSWORD)
    assert exited.value.code == 2


def test_the_name_or_a_look_alike_cannot_be_added_twice(operator) -> None:
    assert operator.run("add", "ana", "--one-time")[0] == 0
    code, _ = operator.run("add", "ANA", "--one-time")
    assert code == account_admin.EXIT_FAILED


async def test_a_class_list_gets_one_time_passwords(make_server, operator, db, tmp_path) -> None:
    roster = tmp_path / "class.csv"
    roster.write_text("name,email\nAlba,a@example.org\n\n# absent today\nBruno,b@example.org\n")
    code, out = operator.run("import", str(roster))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "name,password"
    handed_out = dict(line.split(",") for line in lines[1:])
    assert sorted(handed_out) == ["Alba", "Bruno"]
    assert len(set(handed_out.values())) == 2
    server = await make_server(db=db)
    welcome = await log_in(server.port, "alba", handed_out["Alba"])
    assert welcome["name"] == "Alba"
    assert welcome["temporary_password"] is True
    assert (await log_in(server.port, "bruno", handed_out["Alba"]))["code"] == "bad_login"
    # Imported again, nobody's password changes.
    assert operator.run("import", str(roster)) == (0, "name,password\n")
    listed = operator.run("list")[1]
    assert listed == "Alba\t-, one-time password\nBruno\t-, one-time password\n"


def test_a_class_list_with_the_same_name_twice_writes_nothing(operator, tmp_path) -> None:
    roster = tmp_path / "class.txt"
    roster.write_text("Alba\nCarla\nALBA\n")
    code, _ = operator.run("import", str(roster))
    assert code == account_admin.EXIT_USAGE
    assert operator.run("list") == (0, "")


async def test_reset_role_and_delete(make_server, operator, db) -> None:
    operator.run("add", "ana", "--password-file", operator.password_file(PASSWORD))
    code, out = operator.run("reset", "Ana")
    assert code == 0
    assert out.startswith("ana's password is reset\none-time password: ")
    one_time = out.split(": ")[1].strip()
    assert operator.run("role", "ana", "admin") == (0, "ana is an admin now\n")
    server = await make_server(db=db)
    assert (await log_in(server.port, "ana", PASSWORD))["code"] == "bad_login"
    welcome = await log_in(server.port, "ana", one_time)
    assert welcome["admin"] is True
    assert welcome["temporary_password"] is True
    assert operator.run("role", "ana", "none") == (0, "ana is not an admin now\n")
    assert (await log_in(server.port, "ana", one_time)).get("admin", False) is False
    assert operator.run("delete", "ana") == (0, "ana is no longer registered\n")
    guest = await log_in(server.port, "ana", None)
    assert guest["type"] == "welcome"
    assert guest.get("registered", False) is False
    assert operator.run("reset", "nobody")[0] == account_admin.EXIT_FAILED


def test_the_command_line_entry_point_runs_it(db, tmp_path) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    command = [sys.executable, "-m", "conexion_server", "accounts", "--db", db]
    added = subprocess.run(
        [*command, "add", "ana", "--password-file", str(secret)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([*command, "list"], capture_output=True, text=True, timeout=30)
    assert listed.stdout == "ana\t-\n"
    # No terminal to ask on: a clear error, not a hang.
    asked = subprocess.run(
        [*command, "add", "bob"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert asked.returncode == account_admin.EXIT_USAGE
    assert "--password-file" in asked.stderr


async def test_a_cluster_s_accounts_live_in_its_redis(redis_server, tmp_path) -> None:
    from dataclasses import replace

    from conexion_server.config import ServerConfig
    from conexion_server.server import ChatServer

    config = ServerConfig(host="127.0.0.1", port=0)
    config = replace(config, cluster=redis_server.url, cluster_prefix="accounts-cli:")
    operator = Operator(
        ["--cluster", redis_server.url, "--cluster-prefix", "accounts-cli:"], tmp_path
    )
    assert operator.run("add", "Teacher", "--admin", answers=(PASSWORD, PASSWORD))[0] == 0
    instances = [ChatServer(config), ChatServer(config)]
    for instance in instances:
        await instance.start()
    try:
        for instance in instances:
            welcome = await log_in(instance.port, "teacher", PASSWORD)
            assert welcome["admin"] is True
        assert operator.run("list") == (0, "Teacher\tadmin\n")
        assert operator.run("delete", "teacher")[0] == 0
        assert (await log_in(instances[0].port, "teacher", None))["type"] == "welcome"
    finally:
        for instance in instances:
            await instance.stop()
