"""How many browsers may hold a client at once: one client process each,
so the count is what bounds the web front's memory and CPU."""

from __future__ import annotations


class Visitors:
    """Seats for visitors; `take` is refused once all are taken."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the visitor limit is at least 1")
        self.limit = limit
        self.count = 0

    @property
    def full(self) -> bool:
        return self.count >= self.limit

    def take(self) -> bool:
        if self.full:
            return False
        self.count += 1
        return True

    def give_back(self) -> None:
        self.count = max(0, self.count - 1)


FULL_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Conexion is full</title>
<style>
body {{ background: #0c181f; color: #e8eef2; font-family: sans-serif;
       display: flex; align-items: center; justify-content: center; height: 100vh; }}
main {{ max-width: 36em; text-align: center; }}
</style></head>
<body><main>
<h1>Conexion is full right now</h1>
<p>{limit} people are using the web client, as many as this server takes at once.
Try again in a few minutes, or use the terminal client or an IRC client.</p>
</main></body>
</html>
"""
