"""What the workflow leaves to Snakemake, and the rules' conda environments.

Threads: the Snakefile sets no *_NUM_THREADS; Snakemake gives every `script:` job its rule's
`threads` there, over a value the user exported. Only a `run:` block (in Snakemake's own
process) would not get it, so the workflow has none. The conda environments: each rule names one
under workflow/envs/, each pinned to requirements.lock, the CUDA one differing from the CPU one
by torch's build only.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import yaml
from conftest import REPO, SNAKEMAKE, snakemake_env
from packaging.utils import canonicalize_name
from test_environment import CONDA_TO_PYPI, pins

VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RULES = REPO / "workflow" / "rules"
ENVS = REPO / "workflow" / "envs"

PROBE = f"""
import os
VARIABLES = {VARIABLES!r}

rule all:
    input: "script.txt", "run.txt"

rule script_job:
    output: "script.txt"
    threads: 1
    script: "probe.py"

rule run_block:
    output: "run.txt"
    threads: 1
    run:
        with open(output[0], "w") as handle:
            handle.write(repr({{v: os.environ.get(v) for v in VARIABLES}}))
"""


def test_snakemake_sets_each_jobs_threads_but_not_in_a_run_block(tmp_path: Path) -> None:
    """With OMP_NUM_THREADS=7 and OPENBLAS_NUM_THREADS=5 exported, a `threads: 1` script job
    sees 1 for every variable (so the Snakefile needs no thread block), and a `run:` block sees
    what was exported (so the workflow must not have one: test below)."""
    (tmp_path / "Snakefile").write_text(PROBE)
    (tmp_path / "probe.py").write_text(
        "import os\nVARIABLES = " + repr(VARIABLES) + "\n"
        "with open(snakemake.output[0], 'w') as handle:\n"
        "    handle.write(repr({v: os.environ.get(v) for v in VARIABLES}))\n")
    exported = {"OMP_NUM_THREADS": "7", "OPENBLAS_NUM_THREADS": "5"}
    result = subprocess.run([SNAKEMAKE, "--cores", "2", "--quiet", "all"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120,
                            env=snakemake_env({**exported, "MKL_NUM_THREADS": ""}))
    assert result.returncode == 0, result.stderr[-2000:]
    script = ast.literal_eval((tmp_path / "script.txt").read_text())
    run = ast.literal_eval((tmp_path / "run.txt").read_text())
    assert script == {v: "1" for v in VARIABLES}
    assert run["OMP_NUM_THREADS"] == "7" and run["OPENBLAS_NUM_THREADS"] == "5"


def rule_blocks() -> dict[str, str]:
    """Rule name -> its text, from every rule file and the Snakefile; a rule defined in a loop
    (`rule:` with `name:`) is named by the name's expression."""
    blocks = {}
    for path in [*sorted(RULES.glob("*.smk")), REPO / "Snakefile"]:
        parts = re.split(r"^ *rule (\w+):\n|^ *rule:\n +name:\n +(.+)\n", path.read_text(),
                         flags=re.MULTILINE)
        blocks |= {plain or looped: body.split("\n\n\n")[0]
                   for plain, looped, body in zip(parts[1::3], parts[2::3], parts[3::3],
                                                  strict=True)}
    return blocks


def test_no_rule_runs_in_snakemakes_process() -> None:
    """No `run:` block (it would not get its threads), no thread settings of our own."""
    blocks = rule_blocks()
    assert {"data", "_unit", "cost", "all"} <= set(blocks)  # _unit: the notebooks' loop
    assert not [name for name, body in blocks.items() if re.search(r"^ +run:", body, re.M)]
    code = (REPO / "Snakefile").read_text() + "".join(p.read_text() for p in RULES.glob("*.smk"))
    assert not re.search(r"environ[^\n]*NUM_THREADS|NUM_THREADS[^\n]*=", code)


def test_profiles_do_not_print_shell_commands() -> None:
    """Every rule is a `script:`: printshellcmds would print `Shell command: None` per job."""
    for profile in (REPO / "workflow" / "profiles").glob("*/config.yaml"):
        assert "printshellcmds" not in yaml.safe_load(profile.read_text()), profile


def test_every_rule_names_its_conda_environment() -> None:
    """Each rule but `all` names an environment: conda_env(<its stage>), the bookkeeping one,
    or a file under workflow/envs/ that exists."""
    common = (RULES / "common.smk").read_text()
    named = re.findall(r'"\.\./envs/([\w-]+\.yaml)"', common)
    assert set(named) == {"compute.yaml", "compute-cuda.yaml", "bookkeeping.yaml"}
    for name, body in rule_blocks().items():
        if name == "all":
            continue
        found = re.search(r"^ +conda:\n +(.+)$", body, re.MULTILINE)
        assert found, f"rule {name} names no conda environment"
        value = found.group(1).split("  #")[0].strip()
        if value.startswith('"'):
            assert (RULES / value.strip('"')).resolve().parent == ENVS, (name, value)
            named.append(Path(value.strip('"')).name)
        else:
            assert re.fullmatch(r'conda_env\(("\w+"(, part=True)?)?\)', value), (name, value)
            stage = re.search(r'"(\w+)"', value)
            if stage:  # the stage named is the rule's own (a part rule: its stage's)
                assert name in (stage.group(1), f"{stage.group(1)}_part"), (name, value)
    assert {path.name for path in ENVS.glob("*.yaml")} == set(named)


def conda_pins(path: Path) -> dict[str, str]:
    """PyPI name -> version (build string dropped) of a conda environment file."""
    env = yaml.safe_load(path.read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"], path.name
    found = {}
    for dep in env["dependencies"]:
        name, version = dep.split("=")[:2]
        found[canonicalize_name(CONDA_TO_PYPI.get(name, name))] = version
    return found


def test_rule_environments_pin_the_lock() -> None:
    lock = pins(REPO / "requirements.lock")
    builds = {}
    for path in sorted(ENVS.glob("*.yaml")):
        env = conda_pins(path)
        assert env.pop("python") == "3.11", path.name
        differ = {n: (v, lock.get(n)) for n, v in env.items()
                  if lock.get(n, "").split("+")[0] != v}
        assert not differ, f"{path.name} and requirements.lock differ: {differ}"
        builds[path.stem] = [d for d in yaml.safe_load(path.read_text())["dependencies"]
                             if d.startswith("pytorch")]
    # the CUDA variant is the CPU one but for torch's build
    assert conda_pins(ENVS / "compute.yaml") == conda_pins(ENVS / "compute-cuda.yaml")
    assert builds["compute"] == ["pytorch=2.13.0=cpu*"]
    assert builds["compute-cuda"] == ["pytorch=2.13.0=cuda*"]
    assert not builds["bookkeeping"]
