"""The HTML report of a search run: one self-contained file (plotly inlined; no network, no server) with the front,
progress, the EE-PI funnel, every candidate and the run's facts. ``eeea report RUN_DIR`` writes it; a running search
rewrites it at the end of its rounds (:class:`SearchReport`)."""
from .build import SearchReport, write_report

__all__ = ["SearchReport", "write_report"]
