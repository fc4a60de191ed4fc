"""The house rules of the layout: no import circles, import order never matters, the wings stay apart, and no module is
imported only for its side effect outside a package's ``__init__``."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eeea"


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, is a package)."""
    mods = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    return mods


def _imports(name: str, path: Path, is_pkg: bool, mods: dict) -> set[str]:
    """The package modules ``name`` imports anywhere in its file (lazy imports inside functions included)."""
    pkg = name if is_pkg else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                out.add(sub if sub in mods else mod)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m in mods and m != name}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, is_pkg, mods) for name, (path, is_pkg) in mods.items()}


def test_no_import_circle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_search_and_train_never_import_each_other() -> None:
    graph = _graph()
    for name, targets in graph.items():
        for wing, other in (("eeea.search", "eeea.train"), ("eeea.train", "eeea.search")):
            if name == wing or name.startswith(wing + "."):
                bad = [t for t in targets if t == other or t.startswith(other + ".")]
                assert not bad, f"{name} imports {bad[0]}"


def test_no_side_effect_import_outside_package_inits() -> None:
    """Registries are filled by the package ``__init__`` files; elsewhere every imported name is used."""
    for name, (path, is_pkg) in _modules().items():
        if is_pkg:
            continue
        text = path.read_text()
        assert "noqa: F401" not in text, f"{name} imports something only for its side effect"


@pytest.mark.parametrize("order", ["alphabetical", "reverse"])
def test_import_order_does_not_matter(order: str) -> None:
    names = sorted(_modules())
    if order == "reverse":
        names.reverse()
    code = "import importlib\nfor n in %r:\n    importlib.import_module(n)\n" % (names,)
    # every model spec kind and space kind must be known whichever module came first
    code += ("from eeea.models.specs import MODULE_BUILDERS\nfrom eeea import create_model, list_models\n"
             "assert {'op', 'mbconv', 'log_mel_front', 'stem_cifar'} <= set(MODULE_BUILDERS)\n"
             "for m in list_models():\n    create_model(m)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
