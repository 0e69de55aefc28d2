"""Registered names: the account record, its password hash and the checks on
it. Passwords are kept only as scrypt hashes with a salt of their own and are
compared in constant time. Pure functions and data: hashing is slow on
purpose, so the I/O layer runs `verify` and `hash_password` off the event
loop; nothing here waits or logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

from conexion_protocol import password_problem

__all__ = ["Account", "hash_password", "one_time_password", "password_problem", "verify"]

# scrypt's cost: 2**14 rounds of 8-block mixing take about 40 ms and 16 MiB
# here; enough that a stolen database yields slowly, cheap enough for logins.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# One-time passwords an operator hands out: words a person can read out and
# type, drawn from the system's random source.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes


@dataclass(slots=True, frozen=True)
class Account:
    key: str  # the name's look-alike key
    name: str  # as registered
    hash: str  # "scrypt$N$r$p$salt$hash" (base64)
    admin: bool = False
    # Set when the operator made the password (an import or a reset): the
    # user is asked to choose their own.
    temporary: bool = False

    def with_password(self, hashed: str, *, temporary: bool = False) -> Account:
        return replace(self, hash=hashed, temporary=temporary)


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """A new salted scrypt hash of `password` (slow: off the event loop)."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P)
    return "$".join(("scrypt", str(n), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify(hashed: str, password: str) -> bool:
    """Whether `password` is the one `hashed` was made from, in constant time
    once hashed (slow: off the event loop). A malformed hash never matches."""
    try:
        scheme, n, r, p, salt, digest = hashed.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, got)


def one_time_password() -> str:
    """A password to read out to someone: three groups of four letters."""
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))
    return "-".join(groups)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    secret = password.encode("utf-8", "surrogatepass")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=64 * 2**20, dklen=HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
