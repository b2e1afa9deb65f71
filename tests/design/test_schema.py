"""The committed JSON Schema (designs/schema.json) is the one the code makes."""

import json
from pathlib import Path

from trialsim.design.schema import design_schema


def test_committed_schema_is_current():
    committed = json.loads(Path("designs/schema.json").read_text())
    assert committed == design_schema(), "designs/schema.json is stale: run `make schema`"


def test_examples_point_editors_at_the_schema():
    for path in Path("designs").glob("*.yaml"):
        assert path.read_text().splitlines()[0] == "# yaml-language-server: $schema=schema.json", path


def test_schema_describes_the_format():
    schema = design_schema()
    assert set(schema["required"]) >= {"trialsim", "name", "enrollment", "arms", "endpoints", "analysis"}
    assert schema["additionalProperties"] is False
    duration = schema["$defs"]["Accrual"]["properties"]["duration"]
    assert "months" in json.dumps(duration)
