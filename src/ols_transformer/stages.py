"""The registry of stages: each stage of the pipeline described once.

A stage's name is its config section, its rule (``workflow/rules/<name>.smk``), its script
(``workflow/scripts/<name>.py``), its experiment, checks and plots modules
(``experiments/<name>.py``, ``checks/<name>.py``, ``plots/<name>.py``) and its notebook
(``notebooks/<name>.ipynb``), where it has them. The one stage with a second job,
``training_sweep``, is the ``training`` section's sensitivity grid (``training.sweep``).

The workflow (Snakefile, ``workflow/rules/common.smk``), the ledger, the CLI and
docs/ARCHITECTURE.md read this registry; nothing else lists the stages. What a stage declares:
- ``config``: the dotted config paths its result depends on (its reuse key, ``reuse.py``), and
  all the config its job is handed (``params.cfg``);
- ``upstream``: the stages whose outputs it reads;
- ``outputs``: its tables (``tables/<name>.csv``), figures (``figures/<name>.pdf`` and
  ``.png``) and other files, each under a key its script writes to (``snakemake.output.<key>``);
- ``parts``: for a stage that scatters, its part jobs from the config (one rule
  ``<name>_part`` runs them all, one job per part; each part is its own reuse unit
  ``<name>_<part>``); the stage's own job then gathers them;
- resources (minutes, MB, whether its compute jobs may use a GPU) and the job order priority.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import ConfigError, attention_regression_jobs, hopfield_jobs, icl_jobs
from .reuse import StageSpec


@dataclass(frozen=True)
class Output:
    """One output of a stage: ``key`` names it in the rule (``snakemake.output.<key>``; a figure
    gives ``<key>_pdf`` and ``<key>_png``), ``path`` is relative to the stage directory, and
    ``caption`` the report caption (``workflow/report/<caption>.rst``; none: not in the report)."""

    key: str
    path: str
    caption: str | None = None

    @property
    def kind(self) -> str:
        """``table``, ``figure`` or ``file``, from where it lives."""
        return {"tables": "table", "figures": "figure"}.get(self.path.split("/")[0], "file")

    @property
    def name(self) -> str:
        """The table's or figure's name (its file name without the extension)."""
        return self.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def table(key: str, name: str, caption: str | None = None) -> Output:
    return Output(key, f"tables/{name}.csv", caption)


def figure(key: str, name: str, caption: str | None = None) -> Output:
    return Output(key, f"figures/{name}", caption)  # .pdf and .png


@dataclass(frozen=True)
class Part:
    """One part job of a scattered stage: the config paths its result depends on (its key, and
    what its job is handed as ``params.cfg``) and its own parameters (``params.part``)."""

    config: tuple[str, ...]
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Notebook:
    """The stage's notebook (``notebooks/<stage>.ipynb``): the tables and figures it is given
    (papermill parameters ``<table>_csv``, ``<figure>_png``) and whether it shows the stage's
    criteria."""

    tables: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    criteria: bool = True


@dataclass(frozen=True)
class Stage:
    """A stage of the pipeline (see the module docstring)."""

    name: str
    category: str  # the report's section
    config: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    outputs: tuple[Output, ...] = ()
    section: str | None = None  # config section with its criteria; default: its name
    files: tuple[str, ...] = ()  # checkout files beyond its rule and script (data it reads)
    runtime: int = 10  # minutes, first attempt (doubled on each retry)
    mem_mb: int = 2000
    # Job order where fewer cores than ready jobs: the longest chains first, and every stage
    # job (1 and up) before the notebooks (rules notebook_<stage>: 0), which only the version
    # waits for, so that the ledger starts as soon as the last stage is done.
    priority: int = 1
    gpu: bool = False  # its compute jobs ask for a GPU when its section says device: cuda
    parts: Callable[[Mapping[str, Any]], dict[str, Part]] | None = None
    part_runtime: int = 30
    part_mem_mb: int = 4000
    part_priority: int = 1
    notebook: Notebook | None = None

    @property
    def criteria_section(self) -> str:
        return self.section or self.name

    @property
    def rule_file(self) -> str:
        return f"workflow/rules/{self.criteria_section}.smk"

    @property
    def script(self) -> str:
        return f"workflow/scripts/{self.name}.py"

    @property
    def part_script(self) -> str:
        return f"workflow/scripts/{self.name}_part.py"

    def tables(self) -> list[str]:
        return [o.name for o in self.outputs if o.kind == "table"]

    def figures(self) -> list[str]:
        return [o.name for o in self.outputs if o.kind == "figure"]


# ---- the scattered stages' parts -------------------------------------------------------------

def _hopfield_parts(config: Mapping[str, Any]) -> dict[str, Part]:
    """One part per Hopfield job (``config.hopfield_jobs``: a run, runs sharing a job, a heavy
    N or N and seed), keyed by the shared settings and its own runs' entries only, so that
    editing one run computes only its parts and the gather again."""
    hopfield = config["hopfield"]
    shared = tuple(f"hopfield.{name}" for name in hopfield
                   if name not in ("runs", "criteria", "confidence"))
    return {
        job.removeprefix("hopfield_"): Part(
            (*shared, *dict.fromkeys(f"hopfield.runs.{part.run}" for part in parts)),
            {"parts": [dict(run=part.run, N=list(part.N),
                            seeds=None if part.seeds is None else list(part.seeds))
                       for part in parts]},
        )
        for job, parts in hopfield_jobs(hopfield).items()
    }


def _icl_parts(config: Mapping[str, Any]) -> dict[str, Part]:
    """One part job per group of Lambdas' stacks, the designs, each normalised stack and each
    group of the sensitivity grid, or several of them in one job where they are small
    (``config.icl_jobs``); each reads the whole section."""
    return {job: Part(("icl",), {"parts": parts})
            for job, parts in icl_jobs(config["icl"]).items()}


def _attention_regression_parts(config: Mapping[str, Any]) -> dict[str, Part]:
    """One part job for the algebra (``identity``) and one per (design, N, SNR) condition, or
    several of them in one job where they are small (``config.attention_regression_jobs``);
    each reads the whole section."""
    return {job: Part(("attention_regression",), {"parts": parts})
            for job, parts in attention_regression_jobs(config["attention_regression"]).items()}


# ---- the registry ----------------------------------------------------------------------------

FIG1_TASK = ("training.seeds", "training.n", "training.beta", "training.noise_sigma",
             "training.x_scale")
FIG1_SETTING = ("training.parameterisation", "training.w0", "training.learning_rate",
                "training.epochs", "training.alignment_tol")
NIST_DATA = "src/ols_transformer/datasets/nist_strd"
# The report's categories, in the order it lists them (Snakemake sorts them by name, so each is
# numbered by its place here), with what each holds: the report's landing text
# (workflow/report/workflow.rst, ``python -m ols_transformer.report``) is drawn from them.
REPORT_CATEGORIES: dict[str, str] = {
    "Claims ledger": "one row per claim of the papers, with the measured number, the criterion "
                     "and the verdict; start here (``claims.html`` shows it as a table)",
    "Proof check": "the paper's theorem measured step by step: a single-layer linear "
                   "transformer with W W^T = Sigma^-1 predicts what OLS predicts",
    "Training (Figure 1)": "Figure 1a/1b regenerated (Adam trains the one-parameter "
                           "OLS-Transformer to w* = Sigma^-1/2) and its sensitivity grid",
    "Covariance shift (Section 3)": "eq. 10: in context the model is distorted by "
                                    "Sigma_tr^-1 Sigma_te, static OLS is not",
    "Hopfield capacity (Section 4)": "memory capacities: linear growth for the quadratic energy "
                                     "of linear attention, exponential growth for the "
                                     "exponential energy and softmax attention",
    "Beyond the paper: trained linear transformers (ICL)": "does linear self-attention trained "
        "on in-context regression find the OLS-Transformer? (it learns Gamma*, which tends to "
        "Lambda^-1 only as the context grows); ledger rows of kind extension",
    "Beyond the paper: NIST certified regressions (StRD)": "the OLS-Transformer, route by "
        "route, in digits against NIST's certified linear regressions, as statistical software "
        "is scored; ledger rows of kind extension",
    "The second paper: OLS as an attention mechanism": "Goulet Coulombe's identity, "
        "optimisation view and kernel reading, and Attention Regression against its Monte "
        "Carlo; ledger rows of kind related",
    "Notebooks": "one executed notebook per stage (papermill, on the Python that ran the job) "
                 "that reads the stage's tables and figures and shows its checks",
    "Cost of the run": "every job's seconds and peak memory, per stage, and the critical path "
                       "(``ols-transformer cost results/<version>``)",
}


def category(title: str) -> str:
    """The report category named ``title``, numbered by its place in ``REPORT_CATEGORIES``."""
    return f"{list(REPORT_CATEGORIES).index(title)}. {title}"


FIG1 = category("Training (Figure 1)")
HOPFIELD = category("Hopfield capacity (Section 4)")
ICL = category("Beyond the paper: trained linear transformers (ICL)")
ICL_FIGURES = ("risk", "preconditioner", "depth", "shift", "training", "designs")
# The stages whose tables the ledger judges (its upstream), and the sections of their criteria.
LEDGER_STAGES = ("proof", "nist", "training", "training_sweep", "shift", "hopfield", "icl",
                 "attention_regression")
CRITERIA_SECTIONS = ("proof", "nist", "training", "shift", "hopfield", "icl",
                     "attention_regression")
AR = category("The second paper: OLS as an attention mechanism")
NOTEBOOKS = category("Notebooks")
COST = category("Cost of the run")

STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Stage(
        "data", category("Proof check"), ("data", *FIG1_TASK), section="data",
        priority=5,  # first: a fraction of a second, and training and proof wait for it
        outputs=(Output("regression", "data/regression.npz"),
                 Output("training", "data/training.npz"),
                 table("summary", "data_summary")),
    ),
    Stage(
        "proof", category("Proof check"), ("proof",), upstream=("data",), runtime=30, mem_mb=4000,
        outputs=(table("table", "proof_check", "proof_check"), table("summary", "proof_summary"),
                 figure("figure", "proof_error_vs_condition", "proof_figure")),
        notebook=Notebook(("proof_check",), ("proof_error_vs_condition",)),
    ),
    Stage(
        "nist", category("Beyond the paper: NIST certified regressions (StRD)"), ("nist",),
        files=(NIST_DATA,),
        outputs=(table("table", "nist_lre", "nist_table"), table("summary", "nist_summary"),
                 figure("figure", "nist_lre", "nist_figure")),
        notebook=Notebook(("nist_lre",), ("nist_lre",)),
    ),
    Stage(
        "training", FIG1,
        (*FIG1_TASK, *FIG1_SETTING, "training.criteria.w_rel_tol",
         "training.criteria.tol_factors", "training.endpoint"),
        upstream=("data",), runtime=30, priority=2,
        outputs=(table("table", "fig1_training"),
                 table("headline", "fig1_headline", "fig1_headline"),
                 table("alignment", "fig1_alignment"),
                 table("endpoint", "fig1_endpoint", "fig1_endpoint"),
                 figure("fig1a", "fig1a_convergence", "fig1a"),
                 figure("fig1b", "fig1b_w_vs_wstar", "fig1b")),
        notebook=Notebook(
            ("fig1_headline", "fig1_alignment", "fig1_endpoint", "fig1_sensitivity"),
            ("fig1a_convergence", "fig1b_w_vs_wstar", "fig1_sensitivity",
             "fig1_alignment_region")),
    ),
    Stage(
        "training_sweep", FIG1, (*FIG1_TASK, *FIG1_SETTING, "training.sweep",
                                 "training.criteria"),
        section="training", runtime=30, mem_mb=4000, priority=2,
        outputs=(table("table", "fig1_sensitivity", "fig1_sensitivity_table"),
                 figure("figure", "fig1_sensitivity", "fig1_sensitivity"),
                 figure("region", "fig1_alignment_region", "fig1_alignment_region")),
    ),
    Stage(
        "shift", category("Covariance shift (Section 3)"), ("shift",), runtime=30,
        outputs=(table("table", "covariance_shift", "shift_table"),
                 table("summary", "covariance_shift_summary", "shift_summary"),
                 figure("error", "shift_error", "shift_error"),
                 figure("distortion", "shift_distortion", "shift_distortion")),
        notebook=Notebook(("covariance_shift",), ("shift_error", "shift_distortion")),
    ),
    # The gather's key covers the whole section (the run order, the confidence, the criteria),
    # so it is computed again whenever a part is.
    Stage(
        "hopfield", HOPFIELD, ("hopfield",), gpu=True, parts=_hopfield_parts,
        part_priority=3,
        outputs=(table("table", "hopfield_capacity", "hopfield_capacity"),
                 table("growth", "hopfield_growth", "hopfield_growth"),
                 table("amit", "hopfield_amit", "hopfield_amit"),
                 table("softmax", "hopfield_softmax", "hopfield_softmax"),
                 table("asymmetric", "hopfield_asymmetric"),
                 table("summary", "hopfield_summary"),
                 figure("figure", "hopfield_capacity", "hopfield_figure")),
        # the summary too: the notebook shows the gather's checks rather than judge again
        notebook=Notebook(("hopfield_capacity", "hopfield_growth", "hopfield_amit",
                           "hopfield_softmax", "hopfield_summary"), ("hopfield_capacity",)),
    ),
    Stage(
        "icl", ICL, ("icl",), gpu=True, parts=_icl_parts, mem_mb=3000, part_runtime=10,
        part_mem_mb=3000, part_priority=4,
        outputs=(*(table(name, f"icl_{name}", "icl_table")
                   for name in ("preconditioner", "risk", "shift", "training", "sensitivity",
                                "convergence", "growth")),
                 table("summary", "icl_summary"),
                 *(figure(name, f"icl_{name}", f"icl_{name}") for name in ICL_FIGURES)),
        # the summary too: the notebook shows the gather's checks rather than judge again
        notebook=Notebook(
            ("icl_preconditioner", "icl_risk", "icl_shift", "icl_training", "icl_sensitivity",
             "icl_convergence", "icl_summary"),
            tuple(f"icl_{name}" for name in ICL_FIGURES)),
    ),
    # The second paper of our sources (Goulet Coulombe, "Ordinary Least Squares as an Attention
    # Mechanism"): its identity, optimisation view and kernel reading, and Attention Regression
    # against its Monte Carlo. Its rows in the ledger are of kind "related".
    Stage(
        "attention_regression", AR, ("attention_regression",), gpu=True,
        parts=_attention_regression_parts, mem_mb=3000, part_runtime=10, part_mem_mb=3000,
        part_priority=4,
        outputs=(*(table(name, f"ar_{name}", "attention_regression_table")
                   for name in ("r2", "comparison", "identity", "optimisation", "kernel")),
                 table("summary", "ar_summary"),
                 *(figure(name, f"ar_{name}", "attention_regression_figure")
                   for name in ("r2", "ceiling"))),
        notebook=Notebook(("ar_comparison", "ar_r2", "ar_identity", "ar_optimisation",
                           "ar_kernel"), ("ar_r2", "ar_ceiling")),
    ),
    Stage(
        "claims", category("Claims ledger"),
        # the criteria and their origins (the ledger shows where each threshold comes from)
        tuple(f"{section}.{key}" for section in CRITERIA_SECTIONS
              for key in ("criteria", "criteria_origin")),
        upstream=LEDGER_STAGES, mem_mb=1000,
        priority=6,  # as soon as it is ready: it and its notebook are the run's last chain
        outputs=(Output("ledger", "claims/claims.csv", "claims"),
                 Output("markdown", "claims/claims.md", "claims_md"),
                 figure("figure", "claims_overview", "claims_overview")),
        notebook=Notebook(criteria=False),
    ),
)}


# ---- what the workflow asks of it ------------------------------------------------------------

def parts(stage: str, config: Mapping[str, Any]) -> dict[str, Part]:
    """The part jobs of ``stage`` for this config (none for a stage that does not scatter)."""
    scatter = STAGES[stage].parts
    return scatter(config) if scatter else {}


def part_stage(stage: str, part: str) -> str:
    """The reuse unit (stage directory name) of one part job."""
    return f"{stage}_{part}"


def notebook_stage(stage: str) -> str:
    return f"notebook_{stage}"


def gpus(stage: str, config: Mapping[str, Any]) -> int:
    """GPUs a compute job of ``stage`` asks for: one where the stage may use one and its config
    section says ``device: cuda`` (``auto`` on a node without one runs on its CPU)."""
    spec = STAGES[stage]
    return int(spec.gpu and config.get(spec.criteria_section, {}).get("device") == "cuda")


def specs(config: Mapping[str, Any], data_files: Callable[[str], list[str]]
          ) -> dict[str, StageSpec]:
    """Reuse unit -> what its key depends on (``reuse.stage_keys``): every stage, each part job
    of a scattered stage (the stage's gather has them as upstream) and each notebook.
    ``data_files(folder)``: the checkout files in a folder a stage reads (its data)."""
    result: dict[str, StageSpec] = {}
    for stage in STAGES.values():
        files = (stage.rule_file, stage.script,
                 *(path for folder in stage.files for path in data_files(folder)))
        own_parts = parts(stage.name, config)
        for part, spec in own_parts.items():
            result[part_stage(stage.name, part)] = StageSpec(
                (stage.rule_file, stage.part_script), spec.config)
        result[stage.name] = StageSpec(
            files, stage.config,
            (*stage.upstream, *(part_stage(stage.name, part) for part in own_parts)))
        if stage.notebook is not None:
            result[notebook_stage(stage.name)] = StageSpec(
                ("workflow/rules/notebooks.smk", "workflow/scripts/notebook.py",
                 f"notebooks/{stage.name}.ipynb"),
                (f"{stage.criteria_section}.criteria", f"{stage.criteria_section}.criteria_origin")
                if stage.notebook.criteria else (),
                (stage.name, *(s.name for s in STAGES.values()
                               if s.section == stage.name and s.name != stage.name)),
            )
    return result


def selected(config: Mapping[str, Any]) -> list[str]:
    """The stages a run copies into its version: ``config['stages']`` (a partial version: the
    stages and notebooks it names, ``notebook_<stage>``, computed with what they read), or every
    stage and notebook."""
    chosen = list(config.get("stages") or [])
    known = [*STAGES, *(notebook_stage(s.name) for s in STAGES.values() if s.notebook)]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ConfigError(f"config field 'stages' names unknown stages {unknown}: choose among "
                          f"{', '.join(known)}, or leave it empty to run every stage")
    return [name for name in known if not chosen or name in chosen]
