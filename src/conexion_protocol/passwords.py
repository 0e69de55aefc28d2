"""What an account password may be: one rule, which the server enforces and
a client checks before sending (so a person hears at once what to fix)."""

from __future__ import annotations

MIN_PASSWORD = 8  # characters
MAX_PASSWORD = 200


def password_problem(password: str) -> str | None:
    """Why `password` cannot be an account's password, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password has at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    if password.strip() != password or not password.isprintable():
        return "a password cannot start or end with spaces or hold control characters"
    return None
