"""The locks, environment.yml and pyproject.toml agree: every dependency pinned, at a version its
requirement admits, the same in the lock and in the conda environment; runtime and test tools
apart; torch the locked CPU build, installed."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml
from conftest import REPO
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

# conda package names that differ from their PyPI names
CONDA_TO_PYPI = {"pytorch": "torch"}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    """name -> version of a pip-compile lock; every pin must carry hashes."""
    text = lock.read_text()
    found = {canonicalize_name(n): v for n, v in PIN.findall(text)}
    blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text)
    unhashed = [b.split("==")[0] for b in blocks[1:] if "--hash=sha256:" not in b]
    assert not unhashed, f"{lock.name}: pins without a hash: {unhashed}"
    return found


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def requirements(extra: str | None = None) -> list[Requirement]:
    listed = project()["optional-dependencies"][extra] if extra else project()["dependencies"]
    return [Requirement(r) for r in listed]


def check_lock(lock: dict[str, str], reqs: list[Requirement], name: str) -> None:
    missing = [r.name for r in reqs if canonicalize_name(r.name) not in lock]
    assert not missing, f"{name} lacks {missing}: regenerate it with `bash scripts/lock.sh`"
    outside = [f"{r.name}=={lock[canonicalize_name(r.name)]} (pyproject: {r.specifier})"
               for r in reqs if not r.specifier.contains(lock[canonicalize_name(r.name)],
                                                         prereleases=True)]
    assert not outside, f"{name} pins outside pyproject.toml's ranges: {outside}"


def test_locks_pin_every_dependency_within_pyproject() -> None:
    runtime = pins(REPO / "requirements.lock")
    dev = pins(REPO / "requirements-dev.lock")
    check_lock(runtime, requirements(), "requirements.lock")
    check_lock(dev, requirements() + requirements("test"), "requirements-dev.lock")
    # runtime and development apart: the test tools are not runtime dependencies
    tools = {canonicalize_name(r.name) for r in requirements("test")}
    assert not tools & set(runtime), f"test tools in requirements.lock: {tools & set(runtime)}"
    # the dev lock is the runtime lock plus the tools, every shared pin the same
    differ = {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}
    assert not differ, f"requirements-dev.lock differs from requirements.lock: {differ}"


def test_environment_yml_pins_the_lock() -> None:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge", "bioconda", "nodefaults"]
    conda = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and not dep.startswith(("python", "pip")):
            name, version = dep.split("=")[:2]
            conda[canonicalize_name(CONDA_TO_PYPI.get(name, name))] = version
    runtime = {canonicalize_name(r.name) for r in requirements()}
    assert set(conda) == runtime, (f"only in environment.yml: {sorted(set(conda) - runtime)}; "
                                   f"only in pyproject.toml: {sorted(runtime - set(conda))}")
    lock = pins(REPO / "requirements.lock")
    differ = {n: (v, lock[n]) for n, v in conda.items()
              if Version(v).public != Version(lock[n]).public}
    assert not differ, f"environment.yml and requirements.lock differ: {differ}"


def test_torch_is_the_locked_cpu_build() -> None:
    """The lock pins torch's CPU build, and the torch the tests run on is that build (what
    scripts/setup.sh installs from the lock); pyproject's range stops before the next release,
    which pip would fetch as a multi-GB CUDA build."""
    import torch

    locked = Version(pins(REPO / "requirements.lock")["torch"])
    assert locked.local == "cpu", f"requirements.lock pins torch {locked}, not a CPU build"
    assert Version(torch.__version__) == locked, (
        f"torch {torch.__version__} is installed, the lock pins {locked}: bash scripts/setup.sh")
    assert torch.version.cuda is None and not torch.backends.cuda.is_built()
    (requirement,) = [r for r in requirements() if r.name == "torch"]
    assert requirement.specifier.contains(locked.public)
    following = f"{locked.major}.{locked.minor + 1}.0"
    assert not requirement.specifier.contains(following), (
        f"pyproject.toml admits torch {following}: cap it below the locked release")
