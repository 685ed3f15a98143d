"""The JSON Schema shipped with the package agrees with the validator and with the code's catalogs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import shared_dir
import yaml

from agent_runtime.errors import CATEGORIES, ConfigError
from agent_runtime.providers import PROVIDERS
from agent_runtime.yamlsource import load as load_located
from pytest_kylecode.commands.scenarios import SCHEMA
from pytest_kylecode.faults.catalog import FAULT_KINDS
from pytest_kylecode.scenarios.validate import parse_scenario

ROOT = Path(__file__).resolve().parents[4]
SHARED = shared_dir.SHARED / "contract" / "scenarios"
VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def _valid_files() -> list[Path]:
    files = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted(SHARED.glob("*.yaml"))
    return files or [pytest.param(None, marks=pytest.mark.skip(reason="no scenario files here"))]  # type: ignore[list-item]


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))


def test_schema_lists_exactly_the_codes_catalogs() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["$defs"]["fault"]["anyOf"][0]["enum"] == list(FAULT_KINDS)
    assert schema["$defs"]["expect"]["properties"]["error_category"]["enum"][:-1] == list(CATEGORIES)
    for provider in PROVIDERS:
        assert VALIDATOR.is_valid({"task": "t", "script": [{"text": "x"}], "matrix": {"provider": f"{provider}/m"}})
    assert not VALIDATOR.is_valid({"task": "t", "script": [{"text": "x"}], "matrix": {"provider": "nope/m"}})


@pytest.mark.parametrize("path", _valid_files(), ids=lambda p: p.name if p else "none")
def test_every_shipped_scenario_passes_both(path: Path) -> None:
    parse_scenario(load_located(path))
    VALIDATOR.validate(yaml.safe_load(path.read_text()))


BAD = {
    "unknown top-level key": "tsk: x\n",
    "unknown fault": "matrix: {provider: [openai/x], fault: [http_999]}\n",
    "unknown agent key": "agent: {max_step: 3}\n",
    "wrong type": "agent: {max_steps: many}\n",
    "bad comparison": "expect: {retries: '>>1'}\n",
    "turn without text or calls": "script: [{finish: stop}]\n",
}


@pytest.mark.parametrize("change", BAD.values(), ids=BAD.keys())
def test_both_reject_the_same_mistakes(change: str, tmp_path: Path) -> None:
    base = {"task": "t", "script": [{"text": "done"}], "matrix": {"provider": ["openai/gpt-4o-mini"]}}
    data = {**base, **yaml.safe_load(textwrap.dedent(change))}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    assert not VALIDATOR.is_valid(data)
    with pytest.raises(ConfigError):
        parse_scenario(load_located(path))
