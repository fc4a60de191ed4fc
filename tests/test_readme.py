"""The README runs as written: every console example (and each python example marked to run) through
:mod:`readme_examples`, the slow ones in the slow run; and it stays one read: <= 250 lines, no machine paths."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from readme_examples import Block, matches, parse, run_block
from shared_data import missing_hint, shared_folder

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FAST_S, SLOW_S = 120, 1800  # per command


def _groups(path: Path) -> list[list[Block]]:
    """Each runnable block with the blocks that continue it (they share a working directory and a test)."""
    groups: list[list[Block]] = []
    for block in parse(path.read_text()):
        if block.continues and groups:
            groups[-1].append(block)
        else:
            groups.append([block])
    return groups


def _params(path: Path) -> list:
    out = []
    for group in _groups(path):
        marks = [pytest.mark.slow, pytest.mark.long] if any(b.slow for b in group) else []  # full commands
        skip = next((b.skip for b in group if b.skip), None)
        if skip:
            marks.append(pytest.mark.skip(reason=skip))
        out.append(pytest.param(group, id=f"{path.name}:{group[0].line}", marks=marks))
    return out


@pytest.mark.parametrize("group", _params(README))
def test_readme_example_runs_as_shown(group: list[Block], tmp_path: Path) -> None:
    data = shared_folder() / "data"
    for block in group:
        for name in block.data:
            if not (data / name).is_file():
                pytest.skip(missing_hint(data / name))
            if not (tmp_path / name).exists():
                (tmp_path / name).symlink_to(data / name)
    for name in ("examples", "configs"):  # the README's paths into the checkout
        (tmp_path / name).symlink_to(ROOT / name)
    for block in group:
        run_block(block, tmp_path, SLOW_S if any(b.slow for b in group) else FAST_S)


def test_the_readme_is_one_read_with_no_machine_paths() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    assert not re.search(r"/work/|/home/|/tmp/|device tool|device-wheels|lent H200|\$OUT", text)
    assert re.search(r"python -m pytest.*\d+ min", text), "the test command gives its time"
    assert "Default algorithm" in text and "docs/report.png" in text
    for link in re.findall(r"\]\(((?:docs|benchmarks|examples)/[^)#]+)", text):
        assert (ROOT / link).exists(), link
    groups = _groups(README)
    assert sum(1 for g in groups if not any(b.slow or b.skip for b in g)) >= 2  # the default run checks some
    assert any(any(b.slow for b in g) for g in groups)  # and the quick start, slowly


def test_the_harness_fails_what_differs(tmp_path: Path) -> None:
    """The harness cannot pass vacuously: a wrong line, a missing line, a failing command and a wrong exit fail."""
    page = "\n".join(["<!-- example: slow -->", "```console", "$ printf 'a 1\\nb 2\\nc 3\\n'", "a ...", "...",
                      "c 3", "$ echo x \\", "  y", "x y", "```", "", "```console",
                      "$ echo 'eeea: error: no such thing' >&2; exit 2", "eeea: error: ...", "```",
                      "<!-- example: continues -->", "```python", "print(6 * 7)", "```", "```bash", "$ not run", "```"])
    blocks = parse(page)
    assert [(b.lang, b.slow, b.continues) for b in blocks] == [("console", True, False), ("console", False, False),
                                                                ("python", False, True)]
    assert [c.text for c in blocks[0].commands] == ["printf 'a 1\\nb 2\\nc 3\\n'", "echo x \\\n  y"]
    for block in blocks:
        run_block(block, tmp_path, 60)
    assert matches(["a 1", "...", "c 3"], "a 1\nb 2\nc 3\n") and matches(["...", "c 3"], "c 3\n")
    for shown in (["a 1", "c 3"], ["a 1", "b 2"], ["a 2", "..."], ["...", "d"]):
        assert not matches(shown, "a 1\nb 2\nc 3\n"), shown
    for wrong in ("```console\n$ echo 1\n2\n```", "```console\n$ false\n```",
                  "```console\n$ echo 'eeea: error: x' >&2; exit 2\nx: ...\n```",
                  "```console\n$ echo 'eeea: error: x' >&2; exit 1\neeea: error: x\n```",
                  "```console\n$ echo eeea: error: x\neeea: error: x\n```"):
        with pytest.raises(AssertionError):
            run_block(parse(wrong)[0], tmp_path, 60)
    assert parse("<!-- example: run -->\n```python\nprint(1)\n```")[0].commands[0].text.startswith("python -c ")
    assert parse("<!-- example: slow data a.csv,b.json -->\n```console\n$ ls\n```")[0].data == ["a.csv", "b.json"]
