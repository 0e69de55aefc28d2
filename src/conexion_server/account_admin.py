"""`conexion-server accounts ...`: the operator's accounts, on the database a
server uses (or on a cluster's Redis), whether that server runs or not.

Passwords come from a prompt or a file, never from the command line (argv
is visible to every user of the machine in `ps`); made-up ones are printed
once and stored only hashed. A running server reads accounts from the store
at each login, so a change takes effect the next time the name logs in.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TextIO

from conexion_protocol import ProtocolError, name_key, normalize_name

from . import accounts
from .accounts import Account
from .sqlite_store import SCHEMA_VERSION, SqliteStore, StoreError, account_from_row

EXIT_OK = 0
EXIT_FAILED = 1  # the name is not there, or already is
EXIT_USAGE = 2
EXIT_BAD_STORE = 3


class Problem(Exception):
    """What went wrong, in one line for the operator; `code` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class AccountBook(Protocol):
    """Where a chat's accounts live: its SQLite file, or its Redis."""

    def get(self, key: str) -> Account | None: ...
    def all(self) -> list[Account]: ...
    def add(self, account: Account) -> bool:
        """Store a new account; False if its name key is taken."""
        ...

    def put(self, account: Account) -> None: ...
    def delete(self, key: str) -> bool: ...
    def close(self) -> None: ...


class SqliteBook:
    """The accounts table of a server's database. The server may be running:
    SQLite's own locking (WAL, a busy timeout) keeps both consistent."""

    def __init__(self, path: str) -> None:
        if not Path(path).exists() or _schema(path) < SCHEMA_VERSION:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Created or upgraded as the server would; a running server has
            # done that already, so its lock is never in the way here.
            SqliteStore(path, id_ttl=1.0, max_ids=1).close()
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            raise Problem(f"cannot open {path}: {exc}", EXIT_BAD_STORE) from exc

    def get(self, key: str) -> Account | None:
        row = self.db.execute(
            "SELECT key, name, hash, admin, temporary FROM accounts WHERE key = ?", (key,)
        ).fetchone()
        return account_from_row(row) if row is not None else None

    def all(self) -> list[Account]:
        rows = self.db.execute(
            "SELECT key, name, hash, admin, temporary FROM accounts ORDER BY key"
        ).fetchall()
        return [account_from_row(row) for row in rows]

    def add(self, account: Account) -> bool:
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO accounts VALUES (?, ?, ?, ?, ?)", _row(account)
        )
        return cursor.rowcount == 1

    def put(self, account: Account) -> None:
        self.db.execute("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?, ?)", _row(account))

    def delete(self, key: str) -> bool:
        return self.db.execute("DELETE FROM accounts WHERE key = ?", (key,)).rowcount == 1

    def close(self) -> None:
        self.db.close()


class RedisBook:
    """The accounts hash of a cluster on Redis."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis  # only a cluster needs it

        from .cluster import Keys
        from .cluster_log import LogError, decode_account, encode_account

        self._decode = decode_account
        self._encode = encode_account
        self._log_error = LogError
        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.key = Keys(prefix).accounts
        try:
            self.redis.ping()
        except redis.RedisError as exc:
            raise Problem(f"cannot reach Redis at {url}: {exc}", EXIT_BAD_STORE) from exc

    def _account(self, key: str, value: str | None) -> Account | None:
        try:
            return self._decode(key, value)
        except self._log_error as exc:
            raise Problem(str(exc), EXIT_BAD_STORE) from exc

    def get(self, key: str) -> Account | None:
        return self._account(key, self.redis.hget(self.key, key))  # type: ignore[arg-type]

    def all(self) -> list[Account]:
        found = self.redis.hgetall(self.key)
        listed = (self._account(key, value) for key, value in sorted(found.items()))  # type: ignore[union-attr]
        return [account for account in listed if account is not None]

    def add(self, account: Account) -> bool:
        return bool(self.redis.hsetnx(self.key, account.key, self._encode(account)))

    def put(self, account: Account) -> None:
        self.redis.hset(self.key, account.key, self._encode(account))

    def delete(self, key: str) -> bool:
        return bool(self.redis.hdel(self.key, key))

    def close(self) -> None:
        self.redis.close()


# -- the commands ------------------------------------------------------------------


def build_parser(default_db: str) -> argparse.ArgumentParser:
    # No abbreviations: `--password SECRET` must be an error, not a file name.
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="conexion-server accounts",
        description="Manage a chat's accounts: on its database (a server may be running) "
        "or, with --cluster, on its Redis.",
    )
    parser.add_argument("--db", default=default_db, help="the server's database file")
    parser.add_argument("--cluster", metavar="URL", help="the cluster's Redis URL instead")
    parser.add_argument("--cluster-prefix", default="conexion:", help="the cluster's key prefix")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **options: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, allow_abbrev=False, **options)  # type: ignore[arg-type]

    add = command("add", help="register a name (asks for its password)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="a server admin")
    _password_source(add)

    imp = command(
        "import",
        help="register a class list: one name per line (a CSV's first column); "
        "prints each name with a one-time password to hand out",
    )
    imp.add_argument("file", help="the list (- for standard input)")

    command("list", help="every account, with its role")

    reset = command(
        "reset", help="give a name a new password (a printed one-time one unless a file is given)"
    )
    reset.add_argument("name")
    reset.add_argument("--password-file", metavar="FILE", help="its first line is the password")

    role = command("role", help="make an account a server admin, or not")
    role.add_argument("name")
    role.add_argument("role", choices=("admin", "none"))

    delete = command("delete", help="remove an account (the name becomes free)")
    delete.add_argument("name")
    return parser


def _password_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--password-file", metavar="FILE", help="its first line is the password")
    source.add_argument(
        "--one-time",
        action="store_true",
        help="make up a password, print it once; the user is asked to change it",
    )


def main(
    argv: list[str],
    default_db: str,
    *,
    out: TextIO | None = None,
    ask: Callable[[str], str] = getpass.getpass,
    hash_password: Callable[[str], str] = accounts.hash_password,
) -> int:
    """Run one accounts command; `ask` prompts for a password without echo."""
    out = out or sys.stdout
    args = build_parser(default_db).parse_args(argv)
    try:
        with _open(args) as book:
            run = Commands(book, out, ask, hash_password)
            getattr(run, f"cmd_{args.command}")(args)
    except Problem as exc:
        print(f"conexion-server accounts: {exc}", file=sys.stderr)
        return exc.code
    except (StoreError, sqlite3.Error) as exc:
        print(f"conexion-server accounts: database error: {exc}", file=sys.stderr)
        return EXIT_BAD_STORE
    return EXIT_OK


@contextmanager
def _open(args: argparse.Namespace) -> Iterator[AccountBook]:
    book: AccountBook = (
        RedisBook(args.cluster, args.cluster_prefix) if args.cluster else SqliteBook(args.db)
    )
    try:
        yield book
    finally:
        book.close()


class Commands:
    def __init__(
        self,
        book: AccountBook,
        out: TextIO,
        ask: Callable[[str], str],
        hash_password: Callable[[str], str],
    ) -> None:
        self.book = book
        self.out = out
        self.ask = ask
        self.hash = hash_password

    def cmd_add(self, args: argparse.Namespace) -> None:
        name = _name(args.name)
        if args.one_time:
            password, temporary = accounts.one_time_password(), True
        else:
            password, temporary = self._password(args.password_file, name), False
        account = Account(name_key(name), name, self.hash(password), args.admin, temporary)
        if not self.book.add(account):
            raise Problem(f"{name} is already registered (or a name that looks the same is)")
        role = " (admin)" if args.admin else ""
        self._say(f"registered {name}{role}")
        if temporary:
            self._say(f"one-time password: {password}")

    def cmd_import(self, args: argparse.Namespace) -> None:
        names = _class_list(args.file)
        made = 0
        self._say("name,password")
        for name in names:
            password = accounts.one_time_password()
            account = Account(name_key(name), name, self.hash(password), temporary=True)
            if self.book.add(account):
                self._say(f"{name},{password}")
                made += 1
            else:
                print(f"skipped {name}: already registered", file=sys.stderr)
        print(f"{made} of {len(names)} names registered", file=sys.stderr)

    def cmd_list(self, _: argparse.Namespace) -> None:
        for account in self.book.all():
            notes = ["admin" if account.admin else "-"]
            if account.temporary:
                notes.append("one-time password")
            self._say(f"{account.name}\t{', '.join(notes)}")

    def cmd_reset(self, args: argparse.Namespace) -> None:
        account = self._find(args.name)
        if args.password_file:
            password, temporary = self._password(args.password_file, account.name), False
        else:
            password, temporary = accounts.one_time_password(), True
        self.book.put(account.with_password(self.hash(password), temporary=temporary))
        self._say(f"{account.name}'s password is reset")
        if temporary:
            self._say(f"one-time password: {password}")

    def cmd_role(self, args: argparse.Namespace) -> None:
        account = self._find(args.name)
        admin = args.role == "admin"
        self.book.put(Account(account.key, account.name, account.hash, admin, account.temporary))
        self._say(f"{account.name} is {'an admin' if admin else 'not an admin'} now")

    def cmd_delete(self, args: argparse.Namespace) -> None:
        account = self._find(args.name)
        self.book.delete(account.key)
        self._say(f"{account.name} is no longer registered")

    # -- helpers ------------------------------------------------------------

    def _find(self, raw: str) -> Account:
        account = self.book.get(name_key(_name(raw)))
        if account is None:
            raise Problem(f"{raw} is not registered")
        return account

    def _password(self, path: str | None, name: str) -> str:
        if path is not None:
            password = _first_line(path)
        else:
            if not sys.stdin.isatty() and self.ask is getpass.getpass:
                raise Problem(
                    "no terminal to ask for the password on: use --password-file FILE "
                    "or --one-time",
                    EXIT_USAGE,
                )
            password = self.ask(f"password for {name}: ")
            if self.ask(f"{name}'s password again: ") != password:
                raise Problem("the two passwords differ; nothing was changed", EXIT_USAGE)
        problem = accounts.password_problem(password)
        if problem is not None:
            raise Problem(problem, EXIT_USAGE)
        return password

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def _name(raw: str) -> str:
    try:
        return normalize_name(raw.strip())
    except ProtocolError as exc:
        raise Problem(f"{raw!r}: {exc.message}", EXIT_USAGE) from exc


def _first_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise Problem(f"cannot read the password file {path}: {exc}", EXIT_USAGE) from exc


def _class_list(path: str) -> list[str]:
    """The names of a class list: each row's first cell; blank rows, `#`
    comments and a `name` header skipped; a bad or repeated name stops the
    import before anything is written."""
    try:
        if path == "-":
            rows = list(csv.reader(sys.stdin))
        else:
            with open(path, encoding="utf-8-sig", newline="") as file:
                rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise Problem(f"cannot read {path}: {exc}", EXIT_USAGE) from exc
    names: list[str] = []
    seen: dict[str, str] = {}
    for number, row in enumerate(rows, 1):
        cell = row[0].strip() if row else ""
        if not cell or cell.startswith("#") or (number == 1 and cell.lower() == "name"):
            continue
        name = _name(cell)
        key = name_key(name)
        if key in seen:
            raise Problem(f"line {number}: {name} is the same name as {seen[key]}", EXIT_USAGE)
        seen[key] = name
        names.append(name)
    return names


def _schema(path: str) -> int:
    try:
        db = sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True)
        try:
            return int(db.execute("PRAGMA user_version").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return -1  # let the store say what is wrong with it


def _row(account: Account) -> tuple[str, str, str, int, int]:
    return (account.key, account.name, account.hash, int(account.admin), int(account.temporary))
