"""Running the examples of a Markdown page as written, doctest-like.

A ```` ```console ```` block holds commands (``$ `` lines; a trailing ``\\`` continues a command on the next line) and,
under each, the output it shows. A block runs in a fresh empty working directory, one command after another in
``bash``; what a command prints on stdout must match the lines shown under it:

- a line that is only ``...`` stands for any number of lines (none included);
- ``...`` inside a line stands for any text on that line;
- trailing spaces do not count; otherwise the lines shown are the lines printed, in order, from the first to the last
  (start or end the shown lines with ``...`` to leave out the rest).

A command that fails must show its ``eeea: error: ...`` line: it is then matched against stderr, with exit code 2. A
command with nothing shown under it must only succeed.

An HTML comment on the line before a block says how to run it: ``<!-- example: slow -->`` (only in the slow run),
``<!-- example: data FILE,FILE -->`` (links those files of the project's real-data folder into the working directory,
skipped without them), ``<!-- example: continues -->`` (runs in the previous block's directory, after it, in the same
test), ``<!-- example: skip WHY -->`` (shown, never run: it needs a device or data no test has). Words combine:
``<!-- example: slow data nasbench201.csv -->``. A ```` ```python ```` block runs (``python -c``) only when such a
comment asks for it, with ``continues`` or ``run``.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

MARK = re.compile(r"^<!--\s*example:(.*?)-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")
ELLIPSIS = "..."


@dataclass
class Command:
    """One ``$`` command of a block and the output lines shown under it."""

    text: str
    shown: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A runnable block of a page: where it starts, how to run it, and its commands."""

    line: int  # 1-based line of the opening fence
    lang: str
    words: list[str]
    commands: list[Command]
    source: str = ""

    @property
    def slow(self) -> bool:
        return "slow" in self.words

    @property
    def continues(self) -> bool:
        return "continues" in self.words

    @property
    def skip(self) -> str | None:
        if "skip" not in self.words:
            return None
        return " ".join(self.words[self.words.index("skip") + 1:]) or "shown only"

    @property
    def data(self) -> list[str]:
        if "data" not in self.words:
            return []
        i = self.words.index("data") + 1
        return self.words[i].split(",") if i < len(self.words) else []


def parse(text: str) -> list[Block]:
    """The console blocks of ``text`` and the python blocks a comment asks to run, in page order."""
    lines = text.splitlines()
    blocks, i, words = [], 0, None
    while i < len(lines):
        mark = MARK.match(lines[i])
        fence = FENCE.match(lines[i])
        if mark:
            words = mark.group(1).split()
        elif fence and fence.group(1):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            lang = fence.group(1)
            if lang == "console":
                blocks.append(Block(start, lang, words or [], _commands(body)))
            elif lang == "python" and words is not None:
                source = "\n".join(body) + "\n"
                blocks.append(Block(start, lang, words, [Command(f"python -c {_quote(source)}")], source))
            words = None
        elif lines[i].strip():
            words = None  # a comment applies to the block right below it only
        i += 1
    return blocks


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _commands(body: list[str]) -> list[Command]:
    commands: list[Command] = []
    continuing = False
    for line in body:
        if continuing:
            commands[-1].text += "\n" + line
            continuing = line.endswith("\\")
        elif line.startswith("$ "):
            commands.append(Command(line[2:]))
            continuing = line.endswith("\\")
        elif commands:
            commands[-1].shown.append(line.rstrip())
        else:
            raise ValueError(f"output before any command: {line!r}")
    return commands


def _line_matches(shown: str, printed: str) -> bool:
    parts = shown.split(ELLIPSIS)
    if len(parts) == 1:
        return shown == printed
    pattern = ".*".join(re.escape(p) for p in parts)
    return re.fullmatch(pattern, printed, flags=re.S) is not None


def _match_from(shown: list[str], printed: list[str], i: int, j: int) -> bool:
    """Whether ``shown[i:]`` matches ``printed[j:]`` (backtracking over ``...`` lines)."""
    while i < len(shown):
        if shown[i] == ELLIPSIS:
            return any(_match_from(shown, printed, i + 1, k) for k in range(j, len(printed) + 1))
        if j >= len(printed) or not _line_matches(shown[i], printed[j]):
            return False
        i, j = i + 1, j + 1
    return j == len(printed)


def matches(shown: list[str], printed: str) -> bool:
    """Whether the ``printed`` text is what the ``shown`` lines say (see the module docstring)."""
    return _match_from(shown, [line.rstrip() for line in printed.splitlines()], 0, 0)


def run_block(block: Block, cwd: Path, timeout: float, env: dict[str, str] | None = None) -> None:
    """Run ``block``'s commands in ``cwd``; an AssertionError names the first command whose output or exit differs."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # this interpreter's eeea
    for command in block.commands:
        done = subprocess.run(["bash", "-c", command.text], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
        fails = any(line.startswith("eeea: error:") for line in command.shown)
        where = f"line {block.line}: $ {command.text}"
        if fails:
            assert done.returncode == 2, f"{where}\nexit {done.returncode}, not 2\n{done.stdout}{done.stderr}"
            printed = done.stderr
        else:
            assert done.returncode == 0, f"{where}\nexit {done.returncode}\n{done.stdout}{done.stderr[-3000:]}"
            printed = done.stdout
        if command.shown:
            assert matches(command.shown, printed), (f"{where}\nshown:\n" + "\n".join(command.shown)
                                                     + f"\nprinted:\n{printed}")
