"""The JSON Schema of the cohort spec format, committed as ``cohorts/schema.json`` for editors."""

from __future__ import annotations

from typing import Any

from trialsim.cohort.spec import CohortSpec


def cohort_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a version-1 cohort spec.

    Examples
    --------
    >>> cohort_schema()["title"]
    'trialsim cohort'
    """
    schema = CohortSpec.model_json_schema(mode="validation", by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
