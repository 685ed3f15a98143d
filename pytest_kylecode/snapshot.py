"""The metrics snapshot of every cell, through syrupy: one JSON file per cell.

Layout (docs/design.md, metrics snapshot): ``<scenario dir>/__snapshots__/<scenario>/<cell id>.json``,
where the cell id keeps its ``/`` (``openrouter/z-ai/glm-4.6-stream-native-none.json``
lives in ``openrouter/z-ai/``), mirroring the cassette tree. syrupy's default
naming strips ``/`` and keys on the test file's name, so this extension names
the file itself.

A test driven through the ``kylecode_cell`` fixture (``byo.fixture``) keeps its snapshots
beside its test file, under its test function's name:
``__snapshots__/<test function>/<cell id>.json``. For a matrix cell the test function's
name *is* the scenario name, so one rule serves both: directory ``originalname``,
snapshot name ``<originalname>[<cell id>]``.

syrupy compares, creates and updates these files; it does not judge which are unused. Its rule
(a snapshot that no test of a fully selected run used is deleted under ``--snapshot-update``)
counts a cell that was collected but never ran (``-x``, ``--maxfail``, a stopped live budget, a
cell failing before its snapshot) as unused, and a session in which no snapshot assertion happened
at all hands the whole ``__snapshots__`` tree to syrupy's default extension, which takes every file
it does not own for garbage. So the extension discovers no snapshot, ``claim_snapshot_site`` tells
syrupy at collection that this extension serves the session (no default-extension fallback), and
the files that no cell owns any more are found from the scenarios themselves (``orphans``,
``orphan_report``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.data import SnapshotCollection, SnapshotCollections
from syrupy.extensions.json import JSONSnapshotExtension
from syrupy.location import PyTestLocation
from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData, SnapshotIndex

from agent_runtime.paths import inside, write_atomic
from pytest_kylecode.stash import CELL

if TYPE_CHECKING:
    from syrupy.session import SnapshotSession

    from pytest_kylecode.scenarios.scenario import Cell

SNAPSHOT_DIR = "__snapshots__"


def snapshot_text(data: SerializableData) -> str:
    """A metrics snapshot as its file holds it: stable, sorted, human-diffable JSON."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def corruption(text: str) -> str | None:
    """Why the text of a stored snapshot is no snapshot at all (empty, not JSON, not an object),
    or None: such a file was cut short or edited by hand, and is no metrics of an earlier run
    for a diff to compare with."""
    if not text.strip():
        return "the file is empty"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return f"not JSON ({exc})"
    except RecursionError:
        return "not JSON (nested too deep)"
    if not isinstance(data, dict):
        return f"a metrics snapshot is a JSON object, this is a {type(data).__name__}"
    return None


def _cell(test_location: PyTestLocation) -> Cell:
    return test_location.item.stash[CELL]


def _test_name(test_location: PyTestLocation) -> str:
    """The scenario name for a matrix cell; the test function's name for a fixture-driven test."""
    item = test_location.item
    # Every node with a cell is a function (a cell item, a kylecode_cell test or its definition).
    assert isinstance(item, pytest.Function), type(item)
    return item.originalname


class MetricsSnapshotExtension(JSONSnapshotExtension):
    """Snapshots of ``ProviderMetricsCollector.snapshot()``: stable, sorted, human-diffable JSON."""

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        return snapshot_text(data)

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        scenario_dir = Path(test_location.filepath).parent
        return str(scenario_dir / SNAPSHOT_DIR / _test_name(test_location))

    @classmethod
    def get_location(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        """``<dirname>/<cell id>.json``, refused (``PathEscape``) unless inside the ``__snapshots__``
        tree beside the scenario: a cell id holds route segments."""
        tree = Path(test_location.filepath).parent / SNAPSHOT_DIR
        location = super().get_location(test_location=test_location, index=index)
        return str(inside(tree, Path(location).relative_to(tree)))

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        return f"{_test_name(test_location)}[{_cell(test_location).id}]"

    @classmethod
    def get_file_basename(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        return _cell(test_location).id

    @classmethod
    def matches_test_location(cls, *, test_location: PyTestLocation, snapshot_location: str) -> bool:
        return Path(snapshot_location) == Path(cls.get_location(test_location=test_location, index=0))

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        # Only a key to syrupy (nothing is discovered); syrupy's own asks twice per assertion and
        # costs ~0.1 ms a cell more.
        return cls.dirname(test_location=test_location)

    def discover_snapshots(
        self, *, test_location: PyTestLocation, ignore_extensions: list[str] | None = None
    ) -> SnapshotCollections:
        # None: syrupy's unused-snapshot rule must never see these files (module docstring).
        return SnapshotCollections()

    @classmethod
    def write_snapshot_collection(
        cls, *, snapshot_collection: SnapshotCollection, name_order: dict[str, int] | None = None
    ) -> None:
        """Write the one snapshot of the file through a temporary file and a rename: an
        interrupted write leaves the previous snapshot whole."""
        path = Path(snapshot_collection.location)
        data = next(iter(snapshot_collection)).data
        if not isinstance(data, str):
            raise TypeError(f"a metrics snapshot is JSON text, got {type(data).__name__}")
        write_atomic(path, data)


def metrics_snapshot(request: pytest.FixtureRequest) -> SnapshotAssertion:
    """syrupy's ``snapshot`` fixture value for this test, already on ``MetricsSnapshotExtension``.

    Built the way the fixture builds it (same options, location and syrupy session) instead of
    ``request.getfixturevalue("snapshot").use_extension(...)``: that made two assertions per cell,
    the first on syrupy's default (amber) extension, whose registration walks every file under
    ``scenarios/__snapshots__`` looking for ``.ambr`` files. Measured on 10,000 cells: the walk,
    twice (at registration and at the end-of-session report), plus the fixture machinery cost
    ~1.8 s a session and ~0.3 ms a cell. Falls back to the fixture if syrupy's layout differs.
    """
    snapshot = _assertion(request.config, request.node)
    if snapshot is None:
        fixture: SnapshotAssertion = request.getfixturevalue("snapshot")
        snapshot = fixture.use_extension(MetricsSnapshotExtension)
    return snapshot


_CLAIMED = pytest.StashKey[bool]()


def claim_snapshot_site(config: pytest.Config, node: pytest.Item) -> None:
    """Tell syrupy, once per session, that ``MetricsSnapshotExtension`` serves this session.

    An assertion that is never compared, made at collection for any cell (``node``: a cell
    item, or the definition of a ``kylecode_cell`` test). Without it a session, or an xdist
    worker, in which no cell reached its snapshot (every cell skipped, or failing before its
    snapshot on a stale cassette, or stopped by ``-x``) has syrupy judge the snapshot tree with
    its default extension, which calls every file it does not own unused and deletes it under
    ``--snapshot-update``.
    """
    if config.stash.get(_CLAIMED, False) or getattr(config.option, "disable_unused_snapshots", False):
        return
    config.stash[_CLAIMED] = True
    _assertion(config, node)


def _assertion(config: pytest.Config, node: pytest.Item) -> SnapshotAssertion | None:
    """A syrupy assertion of ``node`` on ``MetricsSnapshotExtension``, registered with the
    session; None when syrupy is not active or its constructor differs."""
    # syrupy keeps its session on the config (``pytest_sessionstart``), not in the stash.
    session: SnapshotSession | None = getattr(config, "_syrupy", None)
    option = config.option
    if session is None or not hasattr(option, "update_snapshots"):
        return None
    try:
        return SnapshotAssertion(
            update_snapshots=option.update_snapshots,
            update_new_snapshots_only=option.update_new_snapshots_only,  # syrupy >= 7 has both
            extension_class=MetricsSnapshotExtension,
            test_location=PyTestLocation(node),
            session=session,
        )
    except TypeError:
        return None
