"""Shell commands out of documentation and workflow files, for tests that check them.

``commands(script)`` splits a small shell script (a workflow ``run:`` block, a fenced ``bash``
block of a README) into simple commands, without running anything: line continuations are
joined, comments dropped, ``&&``/``||``/``;``/``|`` separate commands, ``for``/``do``/``done``
and ``if``/``then``/``fi`` are looked through, redirections are kept apart from the arguments.
Every variable (``$NAME``, ``"$NAME"``, ``${NAME}``, GitHub's ``${{ expr }}``) becomes ``$VAR``, so
a README can show ``$SHARD`` where a workflow says ``${{ matrix.shard }}`` and both compare equal.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

_GITHUB_EXPR = re.compile(r"\$\{\{.*?\}\}")
_SHELL_VAR = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")
_PLACEHOLDER = "@VAR@"
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})
_REDIRECTS = frozenset({">", ">>", "<", "2>", "2>>", "&>"})
_LEADING_KEYWORDS = frozenset({"do", "then", "else", "if", "!"})
_SKIP_KEYWORDS = frozenset({"done", "fi", "for", "while"})
VAR = "$VAR"


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    redirects: tuple[tuple[str, str], ...] = field(default=())

    @property
    def program(self) -> str:
        return self.argv[0]

    def normalized(self) -> str:
        """One line, variables as ``$VAR``: what two spellings of the same command share."""
        words = [*self.argv, *(f"{op} {target}" for op, target in self.redirects)]
        return " ".join(words)


def _unvariable(text: str) -> str:
    return _SHELL_VAR.sub(VAR, text.replace(_PLACEHOLDER, VAR))


def commands(script: str) -> list[Command]:
    script = _GITHUB_EXPR.sub(_PLACEHOLDER, script).replace("\\\n", " ")
    out: list[Command] = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        current: list[str] = []
        redirects: list[tuple[str, str]] = []
        pending_redirect: str | None = None
        for token in [*tokens, ";"]:
            if pending_redirect is not None:
                redirects.append((pending_redirect, _unvariable(token)))
                pending_redirect = None
            elif token in _REDIRECTS:
                pending_redirect = token
            elif token in _SEPARATORS:
                while current and current[0] in _LEADING_KEYWORDS:
                    current.pop(0)
                if current and current[0] not in _SKIP_KEYWORDS:
                    out.append(Command(tuple(_unvariable(word) for word in current), tuple(redirects)))
                current, redirects = [], []
            else:
                current.append(token)
    return out


def fenced_blocks(markdown: str, language: str = "bash") -> list[tuple[int, str]]:
    """``(line number, body)`` of every fenced code block in ``language``."""
    blocks = []
    for match in re.finditer(rf"^```{language}[^\n]*\n(.*?)^```", markdown, flags=re.S | re.M):
        blocks.append((markdown.count("\n", 0, match.start()) + 1, match.group(1)))
    return blocks
