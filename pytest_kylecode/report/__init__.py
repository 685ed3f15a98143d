"""The matrix report, one module per job:

- ``collect``: rows from pytest's test reports (also on the xdist controller), the tables;
- ``excerpt``: what a cell hands the report (headline metrics, transcript excerpt);
- ``baseline``: the comparison with another run's ``report.json``;
- ``terminal``: the terminal summary;
- ``document``: ``report.json``, the document the files below render;
- ``markdown``: ``report.md`` and the PR comment ``summary.md``;
- ``html``: ``report.html`` (its page is the package file ``report.html``);
- ``files``: writing them all, each atomically.
"""

from __future__ import annotations

from pytest_kylecode.report.collect import MatrixReport, Row

__all__ = ["MatrixReport", "Row"]
