# Shared by every rule: the package, config validation, the result version, the stages' keys
# and the helpers that turn the stage registry (src/ols_transformer/stages.py) into rule fields.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

try:
    import ols_transformer
except ImportError as error:
    raise WorkflowError(
        f"the ols_transformer package is not installed for {sys.executable}: run "
        "`bash scripts/setup.sh`, or `pip install .` in this checkout"
    ) from error

from ols_transformer import stages as registry
from ols_transformer.config import ConfigError, device_problems, validate_config
from ols_transformer.reuse import DAMAGED_DIR, config_part, move_aside, stage_keys
from ols_transformer.versioning import (
    VERSION_ENV,
    choose_version,
    package_dir,
    package_mismatch,
    unwritable,
    update_index,
    version_id,
)

# The workflow runs the package it imports (editable or not); a stale install would silently
# run other code than this checkout's src/, so that is refused.
STALE = package_mismatch(workflow.basedir)
if STALE:
    raise WorkflowError(
        f"the ols_transformer imported from {package_dir()} differs from this checkout's src/ "
        f"({len(STALE)} files, e.g. {', '.join(STALE[:3])}): reinstall it from the checkout with "
        "`pip install .` (or `pip install -e .`)"
    )
# Job processes import it too: where it is this checkout's src/ (editable), say so on their
# PYTHONPATH, so that jobs in another environment (conda, a cluster node) find the same code.
if package_dir().parent == (Path(workflow.basedir) / "src").resolve():
    os.environ.update(
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(package_dir().parent), os.environ.get("PYTHONPATH")])
        )
    )

# Fails here, before any job is scheduled, with a message naming each bad field; only the
# message (one line per problem), not a traceback into the package.
try:
    validate_config(config)
    SELECTED = registry.selected(config)  # the stages this run copies into its version
except ConfigError as error:
    sys.exit(str(error))
# device: cuda where this machine sees no GPU. Whether the jobs run here or on a cluster's nodes
# is known only once the executor is (onstart, before any job): a local run is refused there, a
# run whose jobs go to a cluster (the SLURM profile) only warned: its nodes may have one.
NO_GPU = device_problems(config) if workflow.is_main_process else []

# Every compute job uses one core, so more jobs at once than the machine has CPUs only makes
# them share (measured on 2 CPUs: ~10% more CPU time). Said, not changed: --cores is the user's.
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
if workflow.is_main_process and workflow.local_exec and CPUS:
    try:
        _asked = workflow.cores
    except WorkflowError:
        _asked = None
    if isinstance(_asked, int) and _asked > CPUS:
        print(
            f"note: --cores {_asked} on a machine with {CPUS} CPUs: up to {_asked} jobs share "
            f"{CPUS} CPUs (--cores {CPUS} or --cores all runs one job per CPU, ~10% less CPU)",
            file=sys.stderr,
        )

RESULTS = "results"
STAGES_DIR = f"{RESULTS}/stages"
# A results/ this run cannot write (read-only, or a file in the way): one line, before
# anything (else an OSError stack from deep in Snakemake).
if workflow.is_main_process and (_read_only := unwritable(RESULTS)):
    sys.exit(_read_only)
# The submitting process creates its version directory before any job starts (onstart); a job
# computes its version from the run's config and its checkout (StageRun) and stops where no run
# started that version: the code or config changed while the run was in flight.

# Reuse by content (src/ols_transformer/reuse.py): every stage, part job and notebook computes
# into results/stages/<unit>/<key>/, the key a hash of the config parts, code and upstream units
# it depends on (registry.specs); a unit whose key did not change is not computed again.
PARTS = {name: registry.parts(name, config) for name in registry.STAGES}
SPECS = registry.specs(
    config,
    lambda folder: sorted(
        str(path.relative_to(workflow.basedir))
        for path in (Path(workflow.basedir) / folder).glob("*")
    ),
)
KEYS, DAMAGED = stage_keys(SPECS, config, Path(workflow.basedir), Path(STAGES_DIR), Path.cwd())
KEY_PATTERN = "[0-9a-f]+(-[0-9]+)?"
if workflow.is_main_process:
    for _unit, _dirs in DAMAGED.items():
        for _dir, _files in _dirs.items():
            print(
                f"stage {_unit}: {_dir} no longer matches its provenance ({_files[0]}"
                f"{' and more' if len(_files) > 1 else ''}): never reused, computed again under "
                f"{STAGES_DIR}/{_unit}/{KEYS[_unit]}; the run moves it to "
                f"{STAGES_DIR}/{_unit}/{DAMAGED_DIR}/ as it starts",
                file=sys.stderr,
            )

# The version this run writes: its config and code's id, unless that version exists and no
# longer matches its provenance, or was copied from stage directories this run does not use (a
# damaged stage recovered): an existing version is never rewritten, the run writes <id>-1, ...
# Jobs (and a cluster node's parse) take the submitting process's choice from the environment.
if workflow.is_main_process or VERSION_ENV not in os.environ:
    VERSION, _STEPPED = choose_version(
        RESULTS,
        version_id(config, workflow.basedir),
        {unit: f"{STAGES_DIR}/{unit}/{KEYS[unit]}" for unit in SELECTED},
    )
    os.environ[VERSION_ENV] = VERSION
    # said when the new version is started (later runs find it and say nothing)
    _new = workflow.is_main_process and not Path(RESULTS, VERSION).is_dir()
    for _old, _problems in _STEPPED.items() if _new else ():
        print(
            f"version {RESULTS}/{_old} is left as it is ({_problems[0]}"
            f"{' and more' if len(_problems) > 1 else ''}): this run writes {RESULTS}/{VERSION}",
            file=sys.stderr,
        )
else:
    VERSION = os.environ[VERSION_ENV]
VERSION_DIR = f"{RESULTS}/{VERSION}"


def stage_dir(unit):
    """results/stages/<unit>/<key>: where a stage, part job or notebook writes."""
    return f"{STAGES_DIR}/{unit}/{KEYS[unit]}"


def log_file(unit):
    return f"{stage_dir(unit)}/logs/{unit}.log"


def prov(unit):
    return f"{stage_dir(unit)}/provenance/{unit}.json"


def benchmark_file(unit):
    """Kept in the unit's directory, so that a reused unit keeps the cost of the job that
    computed it (the cost table, workflow/rules/cost.smk)."""
    return f"{stage_dir(unit)}/benchmarks/{unit}.tsv"


def by_attempt(base):
    """A resource request that grows with each retry (the SLURM profile retries a failed job
    twice), so a job killed for its memory or time limit asks for more the next time."""
    return lambda wildcards, attempt: base * attempt


def stage_files(stage):
    """The files of ``stage``'s outputs, relative to its directory (a figure: PDF and PNG)."""
    return [
        path
        for output in registry.STAGES[stage].outputs
        for path in (
            [f"{output.path}.pdf", f"{output.path}.png"]
            if output.kind == "figure"
            else [output.path]
        )
    ]


def unit_files(unit):
    """A stage's or notebook's output files, relative to its directory."""
    if unit.startswith("notebook_"):
        name = unit.removeprefix("notebook_")
        return [f"notebooks/{name}.ipynb", f"notebooks/{name}.html"]
    return stage_files(unit)


def stage_of(unit):
    """The registry stage a unit belongs to (a part job: its stage; else the unit itself)."""
    for stage, parts in PARTS.items():
        if any(unit == registry.part_stage(stage, part) for part in parts):
            return stage
    return unit


def report_labels(path):
    """An entry's labels in the report: its file name, and nothing else. Snakemake turns a
    second label into a toggle where it takes two values on half a category's entries each
    (a stage's tables and figures: kind), and a toggle with no entry in both values leaves the
    category blank (tests/test_report.py)."""
    return {"file": os.path.basename(path)}


def outputs(stage):
    """A stage rule's ``output:`` (use as ``**outputs(stage)``): every output the registry
    declares, in the stage's directory, the captioned ones in the report, and its provenance
    record. Outputs are write-protected once their job succeeds: Snakemake then refuses to
    overwrite a finished result (even under --forcerun) instead of silently replacing it."""
    spec = registry.STAGES[stage]
    result = {}
    for output in spec.outputs:
        paths = (
            {f"{output.key}_pdf": f"{output.path}.pdf", f"{output.key}_png": f"{output.path}.png"}
            if output.kind == "figure"
            else {output.key: output.path}
        )
        for key, path in paths.items():
            target = protected(f"{stage_dir(stage)}/{path}")
            if output.caption and not key.endswith("_pdf"):
                target = report(
                    target,
                    caption=f"../report/{output.caption}.rst",
                    category=spec.category,
                    labels=report_labels(path),
                )
            result[key] = target
    result["provenance"] = prov(stage)
    return result


def resources(stage, part=False):
    """A job's resources from the registry: minutes and MB (growing with each retry) and, for
    the compute jobs of a stage that may use one, a GPU when its config says device: cuda."""
    spec = registry.STAGES[stage]
    gpus = registry.gpus(stage, config) if (part or not spec.parts) else 0
    return dict(
        runtime=by_attempt(spec.part_runtime if part else spec.runtime),
        mem_mb=by_attempt(spec.part_mem_mb if part else spec.mem_mb),
        **({"gpu": gpus} if gpus else {}),
    )


def conda_env(stage=None, part=False):
    """A rule's conda environment (``--software-deployment-method conda``; paths relative to
    workflow/rules/): the compute jobs that ask for a GPU (``resources``) get torch's CUDA
    build, the other stage jobs the CPU build; no stage: the bookkeeping rules' light one."""
    if stage is None:
        return "../envs/bookkeeping.yaml"
    spec = registry.STAGES[stage]
    gpus = registry.gpus(stage, config) if (part or not spec.parts) else 0
    return "../envs/compute-cuda.yaml" if gpus else "../envs/compute.yaml"


def priority(stage, part=False):
    spec = registry.STAGES[stage]
    return spec.part_priority if part else spec.priority


def stage_config(unit, section=None):
    """The config parts ``unit`` reads, and nothing else: the dotted paths its key hashes, as
    nested dicts; ``section``: only that section's part. Rules hand this to their job as
    ``params: cfg=`` (StageRun.cfg), so a job cannot read a value its key does not cover."""
    part = {}
    for dotted in SPECS[unit].config:
        *parents, leaf = dotted.split(".")
        node = part
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = config_part(config, dotted)
    return part if section is None else part.get(section, {})


# ---- the part jobs of a scattered stage: one wildcard rule <stage>_part per stage ------------


def part_unit(stage):
    """The part rule's unit, with the wildcard ``part``."""
    return f"{stage}_{{part}}"


def part_outputs(stage):
    """A part rule's ``output:``: the folder of tables it writes, and its provenance record,
    with wildcards ``part`` and ``key``."""
    unit = f"{STAGES_DIR}/{part_unit(stage)}/{{key}}"
    return dict(
        parts=directory(f"{unit}/parts"),
        provenance=f"{unit}/provenance/{part_unit(stage)}.json",
    )


def part_log(stage):
    return f"{STAGES_DIR}/{part_unit(stage)}/{{key}}/logs/{part_unit(stage)}.log"


def part_benchmark(stage):
    return f"{STAGES_DIR}/{part_unit(stage)}/{{key}}/benchmarks/{part_unit(stage)}.tsv"


def part_constraints(stage):
    """Only this config's parts, under their current keys."""
    names = "|".join(PARTS[stage]) or "(?!)"
    return dict(part=names, key=KEY_PATTERN)


def part_inputs(stage):
    """The part folders ``stage``'s gather reads, in part order."""
    return [f"{stage_dir(registry.part_stage(stage, part))}/parts" for part in PARTS[stage]]


def part_params(stage):
    """``params:`` of a part rule: the config its unit's key covers, and the part's own."""
    section = registry.STAGES[stage].criteria_section
    return dict(
        cfg=lambda wildcards: stage_config(registry.part_stage(stage, wildcards.part), section),
        part=lambda wildcards: dict(PARTS[stage][wildcards.part].params),
    )


onstart:
    if NO_GPU and workflow.local_exec:
        sys.exit("invalid config:\n  - " + "\n  - ".join(NO_GPU))
    for _line in NO_GPU:
        print(f"warning: {_line}; the jobs run on the cluster's nodes", file=sys.stderr)
    for _unit, _dirs in DAMAGED.items():
        for _dir in _dirs:
            print(f"stage {_unit}: moved {_dir} to {move_aside(_dir)}", file=sys.stderr)
    Path(VERSION_DIR).mkdir(parents=True, exist_ok=True)
    print(f"results version: {VERSION_DIR}", file=sys.stderr)


onsuccess:
    update_index(RESULTS)


onerror:
    if not unwritable(RESULTS):
        update_index(RESULTS)
