"""Syntax highlighting of code blocks with Pygments: which languages, a cheap guess when the
fence names none, and tokens turned into runs line by line. Pure.

Only the lexers listed here run on text from the network: Pygments has had
lexers whose regexes backtrack badly (ReDoS), and the fence lets a sender
pick the lexer. These are common, and covered by the renderer's time tests.
"""

from __future__ import annotations

from functools import lru_cache

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import (
    Comment,
    Error,
    Generic,
    Keyword,
    Name,
    Number,
    Operator,
    String,
    _TokenType,
)

from .model import Part, Run

# What a fence may say (lower case) -> the Pygments lexer's alias.
LANGUAGES: dict[str, str] = {
    **dict.fromkeys(["python", "py", "python3"], "python"),
    "pycon": "pycon",
    **dict.fromkeys(["javascript", "js", "jsx", "node"], "javascript"),
    **dict.fromkeys(["typescript", "ts", "tsx"], "typescript"),
    "json": "json",
    **dict.fromkeys(["bash", "sh", "shell", "zsh"], "bash"),
    **dict.fromkeys(["console", "shell-session"], "console"),
    "c": "c",
    **dict.fromkeys(["cpp", "c++", "cc", "hpp"], "cpp"),
    **dict.fromkeys(["csharp", "cs", "c#"], "csharp"),
    "java": "java",
    **dict.fromkeys(["kotlin", "kt"], "kotlin"),
    **dict.fromkeys(["go", "golang"], "go"),
    **dict.fromkeys(["rust", "rs"], "rust"),
    **dict.fromkeys(["ruby", "rb"], "ruby"),
    "php": "php",
    "lua": "lua",
    **dict.fromkeys(["haskell", "hs"], "haskell"),
    "swift": "swift",
    "sql": "sql",
    **dict.fromkeys(["html", "htm"], "html"),
    "css": "css",
    "xml": "xml",
    **dict.fromkeys(["yaml", "yml"], "yaml"),
    "toml": "toml",
    **dict.fromkeys(["ini", "cfg"], "ini"),
    **dict.fromkeys(["diff", "patch"], "diff"),
    **dict.fromkeys(["dockerfile", "docker"], "docker"),
    **dict.fromkeys(["makefile", "make"], "make"),
}

# Token kinds, most specific first; anything else is plain code.
_KINDS: tuple[tuple[_TokenType, Part], ...] = (
    (Comment, Part.COMMENT),
    (Keyword, Part.KEYWORD),
    (Name.Builtin, Part.BUILTIN),
    (Name.Function, Part.NAME),
    (Name.Class, Part.NAME),
    (Name.Decorator, Part.NAME),
    (Name.Tag, Part.KEYWORD),
    (String, Part.STRING),
    (Number, Part.NUMBER),
    (Operator.Word, Part.KEYWORD),
    (Operator, Part.OPERATOR),
    (Generic.Inserted, Part.INSERTED),
    (Generic.Deleted, Part.DELETED),
    (Generic.Heading, Part.KEYWORD),
    (Generic.Subheading, Part.KEYWORD),
    (Generic.Prompt, Part.KEYWORD),
    (Error, Part.ERROR),
)


@lru_cache(maxsize=64)
def _lexer(alias: str) -> Lexer:
    # No stripping and no added newline: the tokens must give back the text.
    return get_lexer_by_name(alias, stripnl=False, ensurenl=False, startinline=True)


@lru_cache(maxsize=256)
def _kind(token: _TokenType) -> str | None:
    for parent, part in _KINDS:
        if token in parent:
            return part
    return None


def lexer_alias(language: str) -> str | None:
    """The lexer for a fence's language, or None (shown unhighlighted)."""
    return LANGUAGES.get(language.lower())


def guess_language(code: str, limit: int) -> str | None:
    """A language for an unlabelled block from tell-tale words in its first
    `limit` characters, or None. Substring tests only: cheap and bounded."""
    head = code[:limit]
    first = head.lstrip().split("\n", 1)[0]
    if first.startswith("#!"):
        for word, language in (("python", "python"), ("node", "javascript"), ("sh", "bash")):
            if word in first:
                return language
    if head.startswith(("diff --git", "--- ")) or "\n@@ " in head:
        return "diff"
    if "<?php" in head:
        return "php"
    if head.lstrip().startswith(("{", "[")) and '":' in head:
        return "json"
    if "#include" in head:
        return "cpp"
    if "fn " in head and ("let " in head or "->" in head or "println!" in head):
        return "rust"
    if "package main" in head or ("func " in head and ":=" in head):
        return "go"
    if "public class " in head or "public static void" in head:
        return "java"
    if "def " in head or ("import " in head and ";" not in head) or "elif " in head:
        return "python"
    if any(w in head for w in ("function ", "const ", "=> ", "console.log", "let ")):
        return "javascript"
    upper = head.upper()
    if ("SELECT " in upper and " FROM " in upper) or "CREATE TABLE" in upper:
        return "sql"
    if "</" in head and "<" in head.lstrip()[:1]:
        return "html"
    if first.startswith("$ "):
        return "console"
    return None


@lru_cache(maxsize=512)  # a resize lays the same blocks out again at another width
def highlight(code: str, alias: str) -> tuple[tuple[Run, ...], ...] | None:
    """`code` as runs, one tuple per line, or None if the lexer would not
    give back the text exactly (then the caller shows it plain)."""
    values: list[str] = []
    lines: list[list[tuple[tuple[str, ...], list[str]]]] = [[]]
    for token, value in _lexer(alias).get_tokens(code):
        if not value:
            continue
        values.append(value)
        kind = _kind(token)
        names = (Part.CODE, kind) if kind is not None else (Part.CODE,)
        for number, piece in enumerate(value.split("\n")):
            if number:
                lines.append([])
            if piece:
                line = lines[-1]
                if line and line[-1][0] == names:
                    line[-1][1].append(piece)
                else:
                    line.append((names, [piece]))
    if "".join(values) != code:
        return None
    return tuple(tuple(Run("".join(parts), names) for names, parts in line) for line in lines)
