"""The JSON Schema of the design format, committed as ``designs/schema.json`` for editors."""

from __future__ import annotations

from typing import Any

from trialsim.design.model import DesignSpec


def design_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a version-1 design.

    Examples
    --------
    >>> design_schema()["title"]
    'trialsim design'
    """
    schema = DesignSpec.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
