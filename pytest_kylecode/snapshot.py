"""The metrics snapshot of every cell, through syrupy: one JSON file per cell.

Layout (DESIGN.md section 10): ``<scenario dir>/__snapshots__/<scenario>/<cell id>.json``,
where the cell id keeps its ``/`` (``openrouter/z-ai/glm-4.6-stream-native-none.json``
lives in ``openrouter/z-ai/``), mirroring the cassette tree. syrupy's default
naming strips ``/`` and keys on the test file's name, so this extension maps
names and locations both ways; that keeps ``--snapshot-update`` and syrupy's
unused-snapshot report working for cells.

A test driven through the ``kylecode_cell`` fixture (``byo.fixture``) keeps its snapshots
beside its test file, under its test function's name:
``__snapshots__/<test function>/<cell id>.json``. For a matrix cell the test function's
name *is* the scenario name, so one rule serves both: directory ``originalname``,
snapshot name ``<originalname>[<cell id>]`` (syrupy relates a snapshot to its test by it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from syrupy.data import Snapshot, SnapshotCollection
from syrupy.extensions.json import JSONSnapshotExtension
from syrupy.location import PyTestLocation
from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData, SnapshotIndex

SNAPSHOT_DIR = "__snapshots__"


def _cell(test_location: PyTestLocation) -> Any:
    from pytest_kylecode.stash import CELL

    return test_location.item.stash[CELL]


def _test_name(test_location: PyTestLocation) -> str:
    """The scenario name for a matrix cell; the test function's name for a fixture-driven test."""
    return str(test_location.item.originalname)  # type: ignore[attr-defined]


class MetricsSnapshotExtension(JSONSnapshotExtension):
    """Snapshots of ``ProviderMetricsCollector.snapshot()``: stable, sorted, human-diffable JSON."""

    def serialize(self, data: SerializableData, *, exclude: PropertyFilter | None = None,
                  include: PropertyFilter | None = None, matcher: PropertyMatcher | None = None) -> SerializedData:
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        scenario_dir = Path(test_location.filepath).parent
        return str(scenario_dir / SNAPSHOT_DIR / _test_name(test_location))

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        return cls.dirname(test_location=test_location)

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        return f"{_test_name(test_location)}[{_cell(test_location).id}]"

    @classmethod
    def get_file_basename(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        return _cell(test_location).id

    @classmethod
    def matches_test_location(cls, *, test_location: PyTestLocation, snapshot_location: str) -> bool:
        return Path(snapshot_location) == Path(cls.get_location(test_location=test_location, index=0))

    def owns_snapshot_collection(self, *, filepath: str, test_location: PyTestLocation) -> bool:
        return filepath.endswith(".json")

    def read_snapshot_collection(self, *, snapshot_location: str) -> SnapshotCollection:
        path = Path(snapshot_location)
        parts = path.with_suffix("").parts
        try:
            top = len(parts) - 1 - parts[::-1].index(SNAPSHOT_DIR)
        except ValueError:
            return SnapshotCollection(location=snapshot_location)
        scenario, cell_id = parts[top + 1], "/".join(parts[top + 2:])
        collection = SnapshotCollection(location=snapshot_location)
        collection.add(Snapshot(name=f"{scenario}[{cell_id}]"))
        return collection


def metrics_snapshot(request: Any) -> Any:
    """syrupy's ``snapshot`` fixture value for this test, already on ``MetricsSnapshotExtension``.

    Built the way the fixture builds it (same options, location and syrupy session) instead of
    ``request.getfixturevalue("snapshot").use_extension(...)``: that made two assertions per cell,
    the first on syrupy's default (amber) extension, whose registration walks every file under
    ``scenarios/__snapshots__`` looking for ``.ambr`` files. Measured on 10,000 cells: the walk,
    twice (at registration and at the end-of-session report), plus the fixture machinery cost
    ~1.8 s a session and ~0.3 ms a cell. Falls back to the fixture if syrupy's layout differs.
    """
    from syrupy.assertion import SnapshotAssertion
    from syrupy.location import PyTestLocation

    session = getattr(request.config, "_syrupy", None)
    option = request.config.option
    if session is not None and hasattr(option, "update_snapshots"):
        kwargs: dict[str, Any] = {"update_snapshots": option.update_snapshots,
                                  "extension_class": MetricsSnapshotExtension,
                                  "test_location": PyTestLocation(request.node), "session": session}
        if hasattr(option, "update_new_snapshots_only"):
            kwargs["update_new_snapshots_only"] = option.update_new_snapshots_only
        try:
            return SnapshotAssertion(**kwargs)
        except TypeError:
            pass
    return request.getfixturevalue("snapshot").use_extension(MetricsSnapshotExtension)
