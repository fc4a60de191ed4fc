"""The report's one HTML file: the page (``page.html``, ``page.css``, ``page.js``), the run's data as JSON, and
plotly.js, inlined once so the file opens offline from anywhere.

plotly.min.js weighs 4.8 MB, more than a whole report may; it is embedded gzip-compressed as base64 (2.0 MB) and
unpacked by the browser (``DecompressionStream``). Compressing it takes a second, so the packed text is kept in the
per-user cache (``$EEEA_CACHE``) per plotly version; a process builds the page around it once and then writes only
the data per report.
"""
from __future__ import annotations

import base64
import gzip
from functools import lru_cache
from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path
from typing import Callable

from ..errors import UserError
from ..atomic import atomic_write

#: marks a file as a report eeea wrote (``eeea report --out`` replaces such a file without --force)
GENERATOR = '<meta name="generator" content="eeea report">'
DATA_MARK, PLOTLY_MARK = "<!--DATA-->", "<!--PLOTLY-->"


def _asset(name: str) -> str:
    return files("eeea.report").joinpath(name).read_text(encoding="utf-8")


def plotly_packed() -> str:
    """plotly.min.js, gzip-compressed and base64-encoded (cached per plotly version)."""
    from importlib.metadata import version

    from ..data.cache import cached_json

    spec = find_spec("plotly")
    if spec is None or spec.origin is None:
        raise UserError("the report needs plotly (pip install plotly)")

    def pack() -> str:
        from plotly.offline import get_plotlyjs

        return base64.b64encode(gzip.compress(get_plotlyjs().encode(), 6, mtime=0)).decode("ascii")

    return str(cached_json(Path(spec.origin), f"plotly.min.js gzip base64 {version('plotly')}", pack))


@lru_cache(maxsize=1)
def page_parts() -> tuple[bytes, bytes]:
    """The page before and after its data (stylesheet, script and plotly inlined), encoded: built once per
    process."""
    html = _asset("page.html").replace("/*STYLE*/", _asset("page.css"))
    before, after = html.split(DATA_MARK)
    after = after.replace(PLOTLY_MARK, plotly_packed()).replace("/*SCRIPT*/", _asset("page.js"))
    return before.encode(), after.encode()


def embed(data_json: str) -> str:
    """JSON made safe inside a ``<script>`` element: no ``<`` at all (it only occurs inside strings, where the
    escape means the same), so no ``</script>`` or ``<!--`` can end or change the element."""
    return data_json.replace("<", "\\u003c")


def write_page(path: Path, data_json: str, before_replace: Callable[[Path], None] | None = None) -> int:
    """Write the report to ``path`` atomically (a reader never sees half a page); returns its size in bytes.
    ``before_replace`` sees the complete page just before it takes its place (see :func:`eeea.atomic.atomic_write`)."""
    before, after = page_parts()
    data = embed(data_json).encode()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(before)
            f.write(data)
            f.write(after)

    atomic_write(path, write, durable=False, before_replace=before_replace)  # derived: `eeea report` rebuilds it
    return path.stat().st_size


def is_report(path: Path) -> bool:
    """Whether ``path`` is a report eeea wrote (its head carries the generator mark)."""
    try:
        with open(path, "rb") as f:
            return GENERATOR.encode() in f.read(4096)
    except OSError:
        return False
