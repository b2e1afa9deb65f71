"""Small designs written for the reference tests (no covariates, so the textbook models hold exactly)."""

from pathlib import Path

TWO_ARM_SURVIVAL = """\
trialsim: 1
name: {name}
enrollment:
  sample_size: {n}
  accrual: {{duration: {accrual} months}}
{dropout}randomization: {{method: permuted_block, block_size: 4}}
arms:
  control: {{}}
  treatment: {{}}
endpoints:
  os:
    type: time_to_event
    baseline: {{distribution: exponential, median: {median} months}}
    effect: {effect}
analysis:
  primary: {{endpoint: os, test: {test}, alpha: 0.025}}
  looks: [{looks}]
{bounds}simulation: {{trials: {trials}, seed: {seed}}}
"""


def write(tmp_path: Path, text: str, name: str = "design.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path
