"""The one reader of user files: genomes, configs, recipes, space definitions, labels CSVs, run-directory files and
the members of data zips all come through here, so a hostile or odd file gives one line (a :class:`UserError`), fast.

Limits: a file's size (read no more than the limit, whatever ``stat`` says), only regular files (a FIFO or
``/dev/zero`` would hang or fill memory), UTF-8 text (a binary file is one line, not a ``UnicodeDecodeError``), YAML
whose aliases expand to at most :data:`MAX_YAML_NODES` nodes (a "billion laughs" bomb is refused after composing a
few hundred nodes, in milliseconds), nesting at most :data:`MAX_DEPTH` levels deep (whatever parses deeper would
overflow the stack of the code that walks it later), JSON numbers that are numbers (``NaN``, ``Infinity`` and ``1e999``
refused where a reader asks for finite ones), and zip members whose declared size and compression ratio are sane (a zip
bomb is refused before a byte is inflated).
"""
from __future__ import annotations

import json
import math
import os
import stat
import zipfile
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError

#: genome files, configs, recipes, space definitions, state.json: small by nature
MAX_TEXT_BYTES = 8 << 20
#: archive.jsonl, labels CSVs: one line per evaluation / clip
MAX_TABLE_BYTES = 512 << 20
#: a YAML document's nodes once every alias is expanded
MAX_YAML_NODES = 200_000
#: levels of nesting in a YAML or JSON document (eeea's own files nest a handful)
MAX_DEPTH = 64
#: one member of a data zip (an image, an audio clip) once inflated
MAX_MEMBER_BYTES = 256 << 20
#: inflated / compressed size above which a member (larger than 1 MiB) is taken for a zip bomb
MAX_ZIP_RATIO = 200


def package_dir(name: str) -> Path:
    """The folder of the data package ``eeea.NAME`` (``search_spaces``, ``configs``).

    Installed, it is a package (pyproject maps the repository's ``search_spaces/`` and ``configs/`` to it); in a source
    checkout used without installing (``torch.hub.load(checkout, ..., source="local")``) it is that folder of the
    checkout, next to the ``eeea`` package."""
    try:
        return Path(str(resources.files(f"eeea.{name}")))
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parents[1] / name
        if (folder / "__init__.py").is_file():
            return folder
        raise


def _where(path: Path, what: str) -> str:
    return f"{what} {path}" if what else str(path)


def read_bytes(path: str | Path, what: str = "", limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is one :class:`UserError` line naming
    ``what`` (a flag, "recipe NAME"; may be empty) and the path."""
    path = Path(path)
    where = _where(path, what)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (regular files ignore the flag)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise UserError(f"{where}: is a directory, expected a file")
            if not stat.S_ISREG(st.st_mode):
                raise UserError(f"{where}: not a regular file")
            if st.st_size > limit:
                raise UserError(f"{where}: too large ({st.st_size:,} bytes; at most {limit:,})")
            data = f.read(limit + 1)
    except IsADirectoryError:
        raise UserError(f"{where}: is a directory, expected a file") from None
    except OSError as e:
        raise UserError(f"{where}: cannot read ({e.strerror or e})") from None
    if len(data) > limit:  # grew while we read it
        raise UserError(f"{where}: too large (more than {limit:,} bytes)")
    return data


def decode_text(data: bytes, where: str) -> str:
    """UTF-8 text (a leading BOM dropped); a binary file is one line saying where the first bad byte is."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{where}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                        "is it a binary file?") from None


def read_text(path: str | Path, what: str = "", limit: int = MAX_TEXT_BYTES) -> str:
    """A UTF-8 text file, within ``limit`` bytes."""
    return decode_text(read_bytes(path, what, limit), _where(Path(path), what))


class _LimitedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses documents whose aliases expand beyond :data:`MAX_YAML_NODES` nodes or refer to
    themselves (the composed graph is measured before anything is constructed)."""

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node)
        return node


class _TooBig(Exception):
    pass


def _expanded_size(node: yaml.Node) -> int:
    """Nodes of the tree ``node`` becomes once every alias is copied out (memoised per shared node, so a bomb costs
    only as many steps as it has distinct nodes)."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(n: yaml.Node) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise _TooBig("an alias refers to itself")
        open_.add(key)
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        open_.discard(key)
        if total > MAX_YAML_NODES:
            raise _TooBig(f"aliases expand to more than {MAX_YAML_NODES:,} nodes")
        sizes[key] = total
        return total

    return size(node)


def parse_yaml(text: str, where: str) -> Any:
    """Safe YAML with the alias/expansion limits; errors are one line."""
    try:
        return check_depth(yaml.load(text, Loader=_LimitedLoader), where)  # noqa: S506 - a SafeLoader subclass
    except _TooBig as e:
        raise UserError(f"{where}: refused: {e}") from None
    except yaml.YAMLError as e:
        raise UserError(f"{where}: not valid YAML ({str(e).splitlines()[0]})") from None
    except RecursionError:
        raise UserError(f"{where}: nested too deeply") from None


def parse_json(text: str, where: str, finite: bool = False) -> Any:
    """JSON within :data:`MAX_DEPTH` levels; with ``finite``, ``NaN``, ``Infinity`` and numbers beyond a float
    (``1e999``) are refused. Errors are one line."""
    try:
        data = json.loads(text, parse_constant=_no_constant if finite else None,
                          parse_float=_finite_float if finite else None)
    except json.JSONDecodeError as e:
        raise UserError(f"{where}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except RecursionError:
        raise UserError(f"{where}: nested too deeply") from None
    except ValueError as e:  # a non-finite number, or an integer of more digits than Python converts
        detail = "a number with too many digits" if "digits" in str(e) else str(e).splitlines()[0][:120]
        raise UserError(f"{where}: {detail}; refused") from None
    check_depth(data, where)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def check_depth(data: Any, where: str, limit: int = MAX_DEPTH) -> Any:
    """``data`` when its lists and mappings nest at most ``limit`` levels; else one line (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, tuple, dict)):
            if depth > limit:
                raise UserError(f"{where}: nested more than {limit} levels deep; refused")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return data


def read_json(path: str | Path, what: str = "", limit: int = MAX_TEXT_BYTES, finite: bool = False) -> Any:
    """A JSON file within ``limit`` bytes (see :func:`parse_json`)."""
    return parse_json(read_text(path, what, limit), _where(Path(path), what), finite)


def read_data(path: str | Path, what: str = "", limit: int = MAX_TEXT_BYTES) -> Any:
    """A YAML file (JSON for a ``.json`` suffix), parsed with the limits above."""
    path = Path(path)
    text = read_text(path, what, limit)
    where = _where(path, what)
    return parse_json(text, where) if path.suffix.lower() == ".json" else parse_yaml(text, where)


def read_mapping(path: str | Path, what: str = "", expected: str = "expected a mapping") -> dict[str, Any]:
    """The mapping a YAML (or JSON) file holds; ``expected`` says what was expected when it holds something else."""
    data = read_data(path, what)
    if not isinstance(data, dict):
        raise UserError(f"{_where(Path(path), what)}: {expected}")
    return data


# zips ---------------------------------------------------------------------------------------------------------------
def open_zip(path: str | Path, what: str = "") -> zipfile.ZipFile:
    """A zip archive open for reading; a damaged one is one line."""
    path = Path(path)
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise UserError(f"{_where(path, what)}: not a readable zip ({e})") from None


def check_zip_member(info: zipfile.ZipInfo, where: str, limit: int = MAX_MEMBER_BYTES) -> None:
    """Refuse a member whose declared size or compression ratio marks a zip bomb (before anything is inflated;
    zipfile never inflates more than the declared size)."""
    if info.file_size > limit:
        raise UserError(f"{where}: member {info.filename} would inflate to {info.file_size:,} bytes "
                        f"(at most {limit:,}); refused")
    if info.file_size > (1 << 20) and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
        raise UserError(f"{where}: member {info.filename} is compressed {info.file_size // max(info.compress_size, 1):,}"
                        f" to 1 (a zip bomb?); refused")


def read_zip_member(archive: zipfile.ZipFile, name: str | zipfile.ZipInfo, where: str = "",
                    limit: int = MAX_MEMBER_BYTES) -> bytes:
    """One member's bytes, size-checked first; a damaged member is one line."""
    where = where or str(archive.filename)
    try:
        info = name if isinstance(name, zipfile.ZipInfo) else archive.getinfo(name)
        check_zip_member(info, where, limit)
        return archive.read(info)
    except (zipfile.BadZipFile, zlib.error, KeyError, OSError, ValueError, EOFError, RuntimeError,
            NotImplementedError) as e:
        raise UserError(f"{where}: cannot read member {getattr(name, 'filename', name)} ({e})") from None
