# Shared by every rule: the package, config validation, the result version, and path helpers.
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

from ols_transformer.config import ConfigError, hopfield_jobs, validate_config
from ols_transformer.reuse import StageSpec, config_part, stage_keys
from ols_transformer.versioning import package_dir, package_mismatch, update_index, version_id

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
except ConfigError as error:
    sys.exit(str(error))

# Every compute job uses one core, so running more jobs at once than the machine has CPUs only
# makes them share (measured on 2 CPUs: ~10% more CPU time, the default run 3 min 36 s at
# --cores 8 against 3 min 13 s at --cores 2). --cores is an upper bound ("use at most N
# cores"): a local run uses at most the CPUs there are, and says so.
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
if workflow.is_main_process and workflow.local_exec and CPUS:
    try:
        _asked = workflow.cores
    except WorkflowError:
        _asked = None
    if isinstance(_asked, int) and _asked > CPUS:
        workflow.global_resources["_cores"] = CPUS
        print(
            f"note: --cores {_asked} on a machine with {CPUS} CPUs: running at most {CPUS} "
            "jobs at once (more would only share the CPUs)",
            file=sys.stderr,
        )

VERSION = version_id(config, workflow.basedir)
# A cluster job re-reads this workflow on its node: if the code or config changed after the
# run was submitted, its version would differ and the job would write into another version.
# The submitting process pins its version in the environment the jobs inherit; a job that
# computes another one stops with the reason.
if workflow.is_main_process:
    os.environ.update(OLS_TRANSFORMER_VERSION=VERSION)
elif os.environ.get("OLS_TRANSFORMER_VERSION", VERSION) != VERSION:
    raise WorkflowError(
        f"this job computes result version {VERSION}, but the run was submitted as "
        f"{os.environ.get('OLS_TRANSFORMER_VERSION')}: the code or config changed while the run "
        "was in flight. Restore them, or let the run finish and start a new one."
    )
# Job order where fewer cores than ready jobs: the longest first (icl's parts ~15-30 s each,
# Hopfield's ~5-30 s, the training stages ~10-15 s, the rest a few seconds), so that no long job
# starts last while the other cores idle. Order only: no result depends on it.
PRIORITY = {"icl_part": 3, "hopfield_part": 2, "training": 1}
RESULTS = "results"
VERSION_DIR = f"{RESULTS}/{VERSION}"
STAGES_DIR = f"{RESULTS}/stages"
ALL_TARGETS = []
CONDA_ENV = "../../environment.yml"  # used with --software-deployment-method conda

# Reuse by content (src/ols_transformer/reuse.py): every stage computes into
# results/stages/<stage>/<key>/, the key a hash of the config parts, code and upstream stages it
# depends on; each version directory gets copies of its stages' outputs (one local job per
# version: rule version, workflow/rules/version.smk). A stage whose key did not change is not
# computed again.
FIG1_TASK = ["training.seeds", "training.n", "training.beta", "training.noise_sigma"]
FIG1_TASK += ["training.x_scale"]
FIG1_SETTING = ["training.parameterisation", "training.w0", "training.learning_rate"]
FIG1_SETTING += ["training.epochs", "training.alignment_tol"]
NIST_DATA = "src/ols_transformer/datasets/nist_strd"
# The tolerances the training stage measures at (the checks re-judge at each).
FIG1_TOLERANCES = ["training.criteria.w_rel_tol", "training.criteria.tol_factors"]
# Hopfield: one stage per part job (config.hopfield_jobs: a run, runs sharing a job, or a heavy
# N of a run), keyed by the shared settings and its own runs' entries only, so that editing one
# run's grid computes that run's jobs and the gather again, nothing else; the gather is the
# stage `hopfield`.
HOPFIELD_JOBS = hopfield_jobs(config["hopfield"])  # job -> its parts: run, N, seeds
HOPFIELD_SHARED = tuple(
    f"hopfield.{name}"
    for name in config["hopfield"]
    if name not in ("runs", "criteria", "confidence")
)
# A stage computed by part stages: choosing it (OLS_TRANSFORMER_STAGES) chooses its parts too.
PART_STAGES = {"hopfield": list(HOPFIELD_JOBS)}
TABLE_STAGES = ["proof_check", "nist", "training", "training_sweep", "shift", "hopfield", "icl"]
TABLE_STAGES += ["attention_regression"]
STAGE_SPECS = {
    "data": StageSpec(
        ("workflow/rules/data.smk", "workflow/scripts/data.py"), ("data", *FIG1_TASK)
    ),
    "proof_check": StageSpec(
        ("workflow/rules/proof.smk", "workflow/scripts/proof.py"), ("proof",), ("data",)
    ),
    # The shipped StRD files are data the stage reads: part of its key.
    "nist": StageSpec(
        (
            "workflow/rules/nist.smk",
            "workflow/scripts/nist.py",
            *sorted(
                str(path.relative_to(workflow.basedir))
                for path in (Path(workflow.basedir) / NIST_DATA).glob("*")
            ),
        ),
        ("nist",),
    ),
    "training": StageSpec(
        ("workflow/rules/training.smk", "workflow/scripts/training.py"),
        (*FIG1_TASK, *FIG1_SETTING, *FIG1_TOLERANCES, "training.endpoint"),
        ("data",),
    ),
    "training_sweep": StageSpec(
        ("workflow/rules/training.smk", "workflow/scripts/training_sweep.py"),
        (*FIG1_TASK, *FIG1_SETTING, "training.sweep", "training.criteria"),
    ),
    "shift": StageSpec(("workflow/rules/shift.smk", "workflow/scripts/shift.py"), ("shift",)),
    # The gather reads every part stage; its key covers the whole section (the run order, the
    # confidence, the criteria), so it is computed again whenever a part is.
    "hopfield": StageSpec(
        ("workflow/rules/hopfield.smk", "workflow/scripts/hopfield.py"),
        ("hopfield",),
        tuple(HOPFIELD_JOBS),
    ),
    "icl": StageSpec(("workflow/rules/icl.smk", "workflow/scripts/icl.py"), ("icl",)),
    # The transcribed Monte Carlo it compares with is package data, hashed with the package.
    "attention_regression": StageSpec(
        ("workflow/rules/attention_regression.smk", "workflow/scripts/attention_regression.py"),
        ("attention_regression",),
    ),
    **{
        job: StageSpec(
            ("workflow/rules/hopfield.smk", "workflow/scripts/hopfield_part.py"),
            (*HOPFIELD_SHARED, *(f"hopfield.runs.{part.run}" for part in parts)),
        )
        for job, parts in HOPFIELD_JOBS.items()
    },
    "claims": StageSpec(
        ("workflow/rules/claims.smk", "workflow/scripts/claims.py"),
        tuple(
            f"{section}.criteria"
            for section in (
                "proof", "nist", "training", "shift", "hopfield", "icl", "attention_regression"
            )
        ),
        tuple(TABLE_STAGES),
    ),
}
# Notebook stages, the one place that says what each notebook reads: the stages (their keys
# are part of its key), the config section whose criteria it shows, and the tables and figures
# it is given (papermill parameters <table>_csv, <figure>_png; workflow/rules/notebooks.smk).
NOTEBOOKS = {
    "proof": dict(
        upstream=("proof_check",),
        criteria="proof",
        tables=["proof_check"],
        figures=["proof_error_vs_condition"],
    ),
    "nist": dict(
        upstream=("nist",),
        criteria="nist",
        tables=["nist_lre"],
        figures=["nist_lre"],
    ),
    "training": dict(
        upstream=("training", "training_sweep"),
        criteria="training",
        tables=["fig1_headline", "fig1_alignment", "fig1_endpoint", "fig1_sensitivity"],
        figures=[
            "fig1a_convergence",
            "fig1b_w_vs_wstar",
            "fig1_sensitivity",
            "fig1_alignment_region",
        ],
    ),
    "shift": dict(
        upstream=("shift",),
        criteria="shift",
        tables=["covariance_shift"],
        figures=["shift_error", "shift_distortion"],
    ),
    "hopfield": dict(
        upstream=("hopfield",),
        criteria="hopfield",
        tables=["hopfield_capacity"],
        figures=["hopfield_capacity"],
    ),
    "icl": dict(
        upstream=("icl",),
        criteria="icl",
        tables=["icl_preconditioner", "icl_risk", "icl_shift", "icl_training", "icl_sensitivity"],
        figures=[
            "icl_risk",
            "icl_preconditioner",
            "icl_depth",
            "icl_shift",
            "icl_training",
            "icl_designs",
        ],
    ),
    "attention_regression": dict(
        upstream=("attention_regression",),
        criteria="attention_regression",
        tables=["ar_comparison", "ar_r2", "ar_identity", "ar_optimisation", "ar_kernel"],
        figures=["ar_r2", "ar_ceiling"],
    ),
    "claims": dict(upstream=("claims",), criteria=None, tables=[], figures=[]),
}
for _name, _notebook in NOTEBOOKS.items():
    STAGE_SPECS[f"notebook_{_name}"] = StageSpec(
        (
            "workflow/rules/notebooks.smk",
            "workflow/scripts/notebook.py",
            f"notebooks/{_name}.ipynb",
        ),
        (f"{_notebook['criteria']}.criteria",) if _notebook["criteria"] else (),
        _notebook["upstream"],
    )

KEYS, DAMAGED = stage_keys(
    STAGE_SPECS, config, Path(workflow.basedir), Path(STAGES_DIR), Path.cwd()
)
if workflow.is_main_process:
    for _stage, _files in DAMAGED.items():
        print(
            f"stage {_stage}: an earlier result no longer matches its provenance ({_files[0]}"
            f"{' and more' if len(_files) > 1 else ''}): left as it is, computed again under "
            f"{STAGES_DIR}/{_stage}/{KEYS[_stage]}",
            file=sys.stderr,
        )
STAGE_OUTPUTS = {}  # stage -> paths inside its directory, copied into each version


def stage_dir(stage):
    return f"{STAGES_DIR}/{stage}/{KEYS[stage]}"


def out(stage, path):
    """An output of ``stage``, in its directory, copied into each version that uses it.

    Outputs are write-protected once their job succeeds: Snakemake then refuses to overwrite a
    finished result (even under --forcerun) instead of silently replacing it.
    """
    STAGE_OUTPUTS.setdefault(stage, []).append(path)
    return protected(f"{stage_dir(stage)}/{path}")


def stage_config(stage, section=None):
    """The config parts ``stage`` reads, and nothing else: the dotted paths of its STAGE_SPECS
    entry (the ones its key hashes), as nested dicts; ``section``: only that section's part.
    Rules hand this to their job as ``params: cfg=`` (StageRun.cfg), so a job cannot read a
    value its key does not cover."""
    part = {}
    for dotted in STAGE_SPECS[stage].config:
        *parents, leaf = dotted.split(".")
        node = part
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = config_part(config, dotted)
    return part if section is None else part.get(section, {})


# Job -> its stage, benchmark file, provenance record and the jobs it waits for beyond those of
# its upstream stages (STAGE_SPECS): the cost table's jobs and DAG (workflow/rules/cost.smk).
COST_JOBS = {}


def benchmark_file(stage, job=None, after=()):
    """The ``benchmark:`` file of a job of ``stage`` (default: the job named as the stage), kept
    in the stage directory so that a reused stage keeps the cost of the job that computed it;
    registered for the cost table. ``after``: jobs of the same stage it waits for."""
    job = job or stage
    path = f"{stage_dir(stage)}/benchmarks/{job}.tsv"
    COST_JOBS[job] = dict(stage=stage, benchmark=path, provenance=prov(stage), after=list(after))
    return path


def version_out(path):
    """A file of this run's version directory."""
    return protected(f"{VERSION_DIR}/{path}")


def version_stages():
    """The stages this run copies into its version: those OLS_TRANSFORMER_STAGES names
    (comma-separated), with the part stages of each (PART_STAGES), or every stage
    (workflow/rules/version.smk). Call after every rule."""
    chosen = os.environ.get("OLS_TRANSFORMER_STAGES", "").strip()
    if not chosen:
        return list(STAGE_OUTPUTS)
    names = [name.strip() for name in chosen.split(",") if name.strip()]
    unknown = [name for name in names if name not in STAGE_OUTPUTS]
    if unknown:
        raise WorkflowError(
            f"OLS_TRANSFORMER_STAGES names unknown stages {unknown}: choose among "
            f"{', '.join(STAGE_OUTPUTS)}, or unset it to run every stage"
        )
    names += [part for name in names for part in PART_STAGES.get(name, [])]
    return [stage for stage in STAGE_OUTPUTS if stage in names]


def by_attempt(base):
    """A resource request that grows with each retry (the SLURM profile retries a failed job
    twice), so a job killed for its memory or time limit asks for more the next time."""
    return lambda wildcards, attempt: base * attempt


def log_file(stage):
    return f"{stage_dir(stage)}/logs/{stage}.log"


def prov(stage):
    return f"{stage_dir(stage)}/provenance/{stage}.json"


def labels(stage, kind, name):
    """Report labels: the stage, the kind of result and its name."""
    return {"stage": stage, "kind": kind, "name": name}


onstart:
    print(f"results version: {VERSION_DIR}", file=sys.stderr)


onsuccess:
    update_index(RESULTS)


onerror:
    update_index(RESULTS)
