"""Genome: the readable form of an architecture, independent of any search space's integer encoding.

A genome is the name of its space plus ``arch``, a flat mapping whose values are scalars, lists of scalars or lists of
``[op, input]`` pairs. The space validates and canonicalises it (:meth:`eeea.spaces.SearchSpace.validate`).

Three serialisations, all round-tripping exactly:

* a dict / YAML / JSON file: ``{format: eeea-genome, version: 1, space: eeea, arch: {...}}``;
* a one-line text form for logs and the CLI:
  ``eeea:normal=max_pool_3x3@0,inv_res_3x3@0,...;reduce=...`` — fields separated by ``;``, list items by ``,``,
  a pair written ``op@input``; a one-item list keeps a trailing comma (``depths=4,``);
* ``key``: a short stable hash of the canonical form, for de-duplication and archives.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import GenomeError, UserError
from .files import read_data

FORMAT = "eeea-genome"
VERSION = 1


_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """Tuples to lists, numpy scalars to Python scalars: the JSON-able canonical value."""
    t = type(value)
    if t is list or t is tuple:
        return [_plain(v) for v in value]
    if t in _SCALARS:
        return value
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    return value


@dataclass(frozen=True, eq=False)
class Genome:
    """An architecture: its space's name and its readable genes. Equality and hashing use the key."""

    space: str
    arch: Mapping[str, Any]
    name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "arch", {k: _plain(v) for k, v in self.arch.items()})

    # identity -------------------------------------------------------------------------------------------------
    def canonical_json(self) -> str:
        return json.dumps({"space": self.space, "arch": self.arch}, sort_keys=True, separators=(",", ":"))

    @property
    def key(self) -> str:
        """16 hex digits of SHA-256 over the canonical form: stable across runs, machines and Python versions."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Genome) and self.canonical_json() == other.canonical_json()

    def __hash__(self) -> int:
        return hash(self.canonical_json())

    # dict / files -----------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"format": FORMAT, "version": VERSION, "space": self.space}
        if self.name:
            d["name"] = self.name
        d["arch"] = {k: _plain(v) for k, v in self.arch.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "genome") -> "Genome":
        if not isinstance(d, Mapping):
            raise GenomeError(f"{source}: expected a mapping with 'space' and 'arch', got {type(d).__name__}")
        if d.get("format", FORMAT) != FORMAT:
            raise GenomeError(f"{source}: format {d.get('format')!r} is not {FORMAT!r}")
        version = d.get("version", VERSION)
        if version != VERSION:
            raise GenomeError(f"{source}: genome format version {version!r} is not supported (this eeea reads {VERSION})")
        for required in ("space", "arch"):
            if required not in d:
                raise GenomeError(f"{source}: missing field {required!r}")
        if not isinstance(d["arch"], Mapping):
            raise GenomeError(f"{source}: field 'arch' must be a mapping")
        if not isinstance(d["space"], str) or not _is_name(d["space"]):
            # a name only, never a path: a genome file must not make eeea read other files
            raise GenomeError(f"{source}: field 'space' must be a space name (like eeea or wav2small), "
                              f"got {str(d['space'])[:40]!r}")
        if d.get("name") is not None and not isinstance(d["name"], str):
            raise GenomeError(f"{source}: field 'name' must be text")
        if not all(isinstance(k, str) for k in d["arch"]):
            raise GenomeError(f"{source}: the keys of 'arch' must be field names")
        unknown = set(d) - {"format", "version", "space", "arch", "name", "meta"}
        if unknown:
            raise GenomeError(f"{source}: unknown field {sorted(unknown)[0]!r}")
        return cls(str(d["space"]), dict(d["arch"]), d.get("name"))

    def file_text(self, meta: Mapping[str, Any] | None = None, as_json: bool = False) -> str:
        """The genome file's text: YAML, or JSON with ``as_json``; ``meta`` holds facts about it (objectives)."""
        d = self.to_dict()
        if meta:
            d["meta"] = {k: _plain(v) for k, v in meta.items()}
        return json.dumps(d, indent=2) + "\n" if as_json else _dump_yaml(d)

    def save(self, path: str | Path, meta: Mapping[str, Any] | None = None) -> Path:
        """Write a YAML (or, for ``.json``, JSON) genome file, atomically (a uniquely named temporary file beside it,
        renamed over it once complete)."""
        from .atomic import atomic_write_text

        path = Path(path)
        atomic_write_text(path, self.file_text(meta, as_json=path.suffix == ".json"))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Genome":
        try:
            data = read_data(path, "genome file")
        except GenomeError:
            raise
        except UserError as e:  # unreadable, too large, not text, not valid YAML/JSON: still a genome error
            raise GenomeError(str(e)) from None
        return cls.from_dict(data, source=str(path))

    # one-line text --------------------------------------------------------------------------------------------
    def to_text(self) -> str:
        return f"{self.space}:" + ";".join(f"{k}={_format_value(v)}" for k, v in self.arch.items())

    @classmethod
    def from_text(cls, text: str) -> "Genome":
        space, sep, body = text.strip().partition(":")
        if not sep or not space or not _is_name(space):
            raise GenomeError(f"genome text must start with 'SPACE:', got {text[:40]!r}")
        arch: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in body.split(";"))):
            k, eq, v = part.partition("=")
            if not eq or not _is_name(k.strip()):
                raise GenomeError(f"genome text: field {part[:40]!r} is not NAME=VALUE")
            arch[k.strip()] = _parse_value(v.strip())
        return cls(space, arch)

    def __str__(self) -> str:
        return self.to_text()


def _is_name(s: str) -> bool:
    return s.replace("_", "a").replace("-", "a").isalnum()


def _format_value(v: Any) -> str:
    if isinstance(v, list):
        items = [f"{x[0]}@{x[1]}" if isinstance(x, list) else _format_scalar(x) for x in v]
        return ",".join(items) + ("," if len(items) == 1 else "")
    return _format_scalar(v)


def _format_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _parse_value(v: str) -> Any:
    if "," in v:
        return [_parse_item(x.strip()) for x in v.split(",") if x.strip()]
    if "@" in v:
        raise GenomeError(f"genome text: pair {v!r} must be inside a list (add a trailing comma)")
    return _parse_scalar(v)


def _parse_item(x: str) -> Any:
    if "@" in x:
        op, _, inp = x.partition("@")
        try:
            return [op, int(inp)]
        except ValueError:
            raise GenomeError(f"genome text: input of pair {x!r} is not an integer") from None
    return _parse_scalar(x)


def _parse_scalar(x: str) -> Any:
    if x in ("true", "false"):
        return x == "true"
    for cast in (int, float):
        try:
            return cast(x)
        except ValueError:
            pass
    return x


class _FlowPairsDumper(yaml.SafeDumper):
    pass


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    # Pairs and lists of scalars read best on one line; the list of pairs stays one pair per line.
    flow = all(not isinstance(x, (list, dict)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FlowPairsDumper.add_representer(list, _represent_list)


def _dump_yaml(d: Mapping[str, Any]) -> str:
    return yaml.dump(dict(d), Dumper=_FlowPairsDumper, sort_keys=False, width=120)
