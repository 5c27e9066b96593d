"""environment.yml (conda) and pyproject.toml (pip) must list the same packages."""

from __future__ import annotations

import re

import tomllib
import yaml
from conftest import REPO
from packaging.requirements import Requirement

# conda package names that differ from their PyPI names
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"]}
    pip_names |= {_name(r) for r in project["optional-dependencies"]["test"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda_names = {
        CONDA_TO_PYPI.get(_name(d), _name(d)) for d in env["dependencies"]
        if isinstance(d, str) and _name(d) not in {"python", "pip"}
    }
    assert conda_names == pip_names, (
        f"only in environment.yml: {sorted(conda_names - pip_names)}; "
        f"only in pyproject.toml: {sorted(pip_names - conda_names)}"
    )


def test_torch_requirement_admits_the_local_cpu_wheel_and_no_newer_release() -> None:
    # The CPU wheel on this machine's disk is torch 2.13.0; a requirement that admits a newer
    # release makes pip fetch a multi-GB CUDA build instead.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (torch_req,) = [Requirement(r) for r in project["dependencies"] if _name(r) == "torch"]
    assert torch_req.specifier.contains("2.13.0")
    assert not any(torch_req.specifier.contains(v) for v in ("2.14.0", "2.15.1", "3.0.0"))
