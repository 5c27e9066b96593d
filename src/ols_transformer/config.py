"""Config validation: the JSON schema, then checks across fields, with messages that name the
field, the bad value, what is allowed and how to fix it. Runs before any job starts.

One line per problem, and never a dump of the config: an unknown key is named with its path and
the closest known key; a value is shown only when it is short. This module sits below the
stages (experiments may call it) and imports none of their checks (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import yaml

from .hopfield_theory import exact_dtype
from .shift import ICL_NO_SHIFT, NO_SHIFT
from .stats import MIN_REPLICATES

# Package data (workflow/schemas/config.schema.yaml links here), so an installed package has it.
SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"
ICL_SCALE_FAMILIES = ("isotropic_scale", "task_scale")  # magnitudes are factors: > 0
# A value longer than this is left out of a message (a section would dump pages of config).
SHORT_VALUE = 80


class ConfigError(ValueError):
    """A config value is invalid; the message names the field and the fix."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


@functools.cache
def _package_schema() -> dict[str, Any]:
    """The package's schema, read once per process (callers only read it)."""
    return load_schema()


def _field(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "<top level>"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _allowed(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    parts = []
    for key, text in (
        ("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"),
        ("exclusiveMaximum", "< {}"), ("enum", "one of {}"), ("type", "of type {}"),
        ("minItems", "at least {} items"), ("pattern", "matching {}"),
    ):
        if key in schema:
            parts.append(text.format(schema[key]))
    return ", ".join(parts)


def closest(name: str, known: Sequence[str]) -> str | None:
    """The known key most like ``name`` (a typo's likely intent), or None if none is close."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def _unknown_keys(error: jsonschema.ValidationError) -> list[str]:
    """One message per key that ``additionalProperties: false`` refuses: its path and the
    closest known key (jsonschema's own message prints the whole enclosing section)."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    where = _field(error)
    prefix = "" if where == "<top level>" else f"{where}."
    section = "the top level" if where == "<top level>" else f"'{where}'"
    messages = []
    for key in sorted(map(str, error.instance)):
        if key in known or any(re.search(p, key) for p in patterns):
            continue
        guess = closest(key, known)
        hint = (f"did you mean '{prefix}{guess}'?" if guess
                else f"known keys: {', '.join(known)}")
        messages.append(f"config key '{prefix}{key}' is not a known key of {section}; {hint}")
    return messages


def _message(error: jsonschema.ValidationError) -> list[str]:
    """The one-line messages for one schema error, naming the field and what is allowed."""
    if error.validator == "additionalProperties" and error.validator_value is False:
        return _unknown_keys(error)
    field = _field(error)
    if error.validator == "required":
        missing_key = str(error.message).split("'")[1] if "'" in error.message else "?"
        where = "" if field == "<top level>" else f"{field}."
        return [f"config field '{where}{missing_key}' is missing; add it (config/config.yaml "
                "has every field with its default)"]
    shown = repr(error.instance)
    # jsonschema's messages start with the instance's repr: drop it when it is long.
    text = error.message if len(shown) <= SHORT_VALUE else error.message.replace(shown,
                                                                                   "the value")
    text = _readable(error, text)
    value = f" = {shown}" if len(shown) <= SHORT_VALUE else ""
    allowed = "" if error.validator == "not" else _allowed(error)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    return [_one_line(f"config field '{field}'{value}: {text}"
                      + (f" (allowed: {allowed})" if allowed else "")
                      + (f"; note: {schema['description']}" if "description" in schema else ""))]


# YAML 1.1 (PyYAML, Snakemake) reads a float without a dot, 1e-3, as the string '1e-3'.
YAML_FLOAT = re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$")


def _readable(error: jsonschema.ValidationError, text: str) -> str:
    """jsonschema's text, said for a reader where it is not: a number YAML read as a string
    (``1e-3``) gets the way to write it; ``not: {const: v}`` says the value is not allowed."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if (error.validator == "type" and isinstance(error.instance, str)
            and YAML_FLOAT.match(error.instance.strip())):
        mantissa, exponent = error.instance.strip().lower().split("e")
        return (f"{error.instance!r} is a string to YAML 1.1, not a number: write it with a "
                f"dot, {mantissa}.0e{exponent}")
    if error.validator == "not" and isinstance(schema.get("not"), Mapping) \
            and "const" in schema["not"]:
        return f"{schema['not']['const']!r} is not allowed here"
    return text


def validate_config(config: Mapping[str, Any], schema_path: str | Path = SCHEMA_PATH) -> None:
    """Raise :class:`ConfigError` listing every invalid field of ``config``, one line each."""
    validator = jsonschema.Draft202012Validator(load_schema(schema_path))
    errors = sorted(validator.iter_errors(dict(config)),
                    key=lambda e: [str(part) for part in e.absolute_path])
    messages = [line for error in errors for line in _message(error)]
    if not errors:
        messages = [_one_line(m) for m in _cross_field_problems(config)]
    if messages:
        raise ConfigError(
            "invalid config:\n  - " + "\n  - ".join(messages)
            + f"\nFix these values in your config file (schema: {schema_path})."
        )


def _non_finite(value: Any, path: str) -> list[str]:
    """Every NaN or infinite number in the config, by field (JSON schema lets them through:
    NaN fails no comparison, so 'minimum' cannot catch it)."""
    if isinstance(value, Mapping):
        return [p for key, item in value.items()
                for p in _non_finite(item, f"{path}.{key}" if path else str(key))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _non_finite(item, f"{path}.{i}")]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"config field '{path}' = {value!r}: must be a finite number"]
    return []


def replicate_problems(config: Mapping[str, Any]) -> list[str]:
    """Replicate counts below ``stats.MIN_REPLICATES`` where a ledger row is decided by a
    t interval over them: the data stage's draws (the proof stage's error-growth slopes), the
    training, shift and Hopfield seeds (the icl seeds, main and sensitivity grid: in
    ``icl_problems``), each named with its fix."""
    problems = []
    counts = {"data.replicates": config.get("data", {}).get("replicates", 1),
              "training.seeds": len(config.get("training", {}).get("seeds", [])),
              "shift.seeds": len(config.get("shift", {}).get("seeds", [])),
              "hopfield.seeds": len(config.get("hopfield", {}).get("seeds", []))}
    for field, count in counts.items():
        if int(count) < MIN_REPLICATES:
            draws = field == "data.replicates"
            problems.append(f"config field '{field}' gives {count} replicate(s): a row decided "
                            f"by a t interval over {'draws' if draws else 'seeds'} needs at "
                            f"least {MIN_REPLICATES} independent ones; "
                            f"{'set it to' if draws else 'list'} {MIN_REPLICATES} or more"
                            f"{'' if draws else ' distinct seeds, e.g. [0, 1, 2, 3, 4]'}")
    return problems


def choice_problems(config: Mapping[str, Any]) -> list[str]:
    """Each decisive-choice list (the alternatives a row is re-judged at) must contain the
    default it varies: the family is the default and its alternatives."""
    problems = []
    for section, default, alternatives in (("proof", "rounding_constant",
                                            "rounding_constant_alternatives"),):
        crit = config.get(section, {}).get("criteria", {})
        if alternatives in crit and float(crit[default]) not in map(float, crit[alternatives]):
            problems.append(f"config field '{section}.criteria.{alternatives}' = "
                            f"{crit[alternatives]} lacks the default "
                            f"{section}.criteria.{default} = {crit[default]:g}; add it")
    return problems


# Where a criterion comes from (``<section>.criteria_origin``: "<origin>: <why>"); the same
# words as ``checks.ORIGINS`` (tests/test_config.py holds them equal; config imports no checks).
CRITERION_ORIGINS = ("theory", "literature", "paper", "ours")


def origin_problems(config: Mapping[str, Any]) -> list[str]:
    """Every criterion of every section (``<section>.criteria``) needs its origin in
    ``<section>.criteria_origin`` as "<origin>: <why>" (origin one of CRITERION_ORIGINS, a
    reason after the colon); an origin for no criterion is refused too."""
    problems = []
    for section, body in config.items():
        if not isinstance(body, Mapping) or not isinstance(body.get("criteria"), Mapping):
            continue
        origins = body.get("criteria_origin") or {}
        for name in body["criteria"]:
            field = f"{section}.criteria_origin.{name}"
            stated = origins.get(name)
            if stated is None:
                problems.append(f"config field '{field}' is missing: criterion "
                                f"'{section}.criteria.{name}' has no origin; add "
                                f"'{name}: \"<origin>: <why>\"' under {section}.criteria_origin "
                                f"(origin one of {', '.join(CRITERION_ORIGINS)})")
                continue
            origin, colon, why = str(stated).partition(":")
            if origin.strip() not in CRITERION_ORIGINS or not colon or not why.strip():
                problems.append(f"config field '{field}' = {stated!r}: write \"<origin>: <why>\""
                                f" with origin one of {', '.join(CRITERION_ORIGINS)} and a "
                                "reason after the colon")
        for name in sorted(set(origins) - set(body["criteria"])):
            problems.append(f"config field '{section}.criteria_origin.{name}' names no "
                            f"criterion of {section}.criteria; remove it or fix the name")
    return problems


def sweep_problems(config: Mapping[str, Any]) -> list[str]:
    """A scientific-choice sweep must contain the stated value it varies: the training sweep's
    forms, learning rates, starts and input scales contain the main run's."""
    training = config.get("training", {})
    sweep = training.get("sweep", {})
    problems = []
    for stated, swept in (("parameterisation", "parameterisations"),
                          ("learning_rate", "learning_rates"), ("w0", "w0"),
                          ("x_scale", "x_scales")):
        if stated not in training or swept not in sweep:
            continue
        values = sweep[swept]
        value = training[stated]
        inside = value in values if isinstance(value, str) else any(
            not isinstance(v, str) and math.isclose(float(v), float(value), rel_tol=1e-12)
            for v in values)
        if not inside:
            problems.append(f"config field 'training.sweep.{swept}' = {values} lacks the main "
                            f"run's training.{stated} = {value}: a sweep of a scientific choice "
                            "must contain the stated value; add it")
    return problems


def data_problems(data: Mapping[str, Any]) -> list[str]:
    return [f"config fields 'data.p' = {p} and 'data.n' = {n}: OLS needs p < n (a "
            "full-column-rank X); lower p or raise n"
            for n in data["n"] for p in data["p"] if p >= n]


def shift_problems(shift: Mapping[str, Any]) -> list[str]:
    """Sizes the covariance-shift study needs: invertible second moments (m > p, n_train > p)
    and the inverse-Wishart moments of its sampling theory (n_train > p + 3)."""
    p, n = int(shift["p"]), int(shift["n_train"])
    problems = []
    if n <= p + 3:
        problems.append(f"config field 'shift.n_train' = {n}: must exceed p + 3 = {p + 3} "
                        f"(shift.p = {p}) for the sampling theory; raise it or lower shift.p")
    small = [m for m in shift["context_sizes"] if m <= p]
    if small:
        problems.append(f"config field 'shift.context_sizes' has {small} <= shift.p = {p}: "
                        "every context size m must exceed p (Sigma_te must be invertible)")
    return problems


# A Hopfield run's name becomes part of its jobs' names (rules and stage directories): a
# Python identifier, so Snakemake accepts the rule name and the name needs no quoting in a path.
RUN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class HopfieldPart(NamedTuple):
    """What a Hopfield part job computes of one run: the N and the seeds (None: every seed of
    ``hopfield.seeds``)."""

    run: str
    N: tuple[int, ...]
    seeds: tuple[int, ...] | None = None


def hopfield_jobs(hopfield: Mapping[str, Any]) -> dict[str, tuple[HopfieldPart, ...]]:
    """The Hopfield stage's part jobs, in the config's run order: job name -> its parts.

    Per run: its grid is computed in the job ``hopfield_<job>`` (``job``: the run's own name
    unless it names another: runs naming the same job share it, which saves a job's start-up
    for runs of a second or two), except the N it lists in ``own_jobs`` (one job
    ``hopfield_<run>_N<N>`` each) and in ``seed_jobs`` (one job ``hopfield_<run>_N<N>_seed<seed>``
    per seed): the heavy N, which would make one long job. Each job is its own stage
    (common.smk), so editing one run recomputes only its jobs and the gather. Every (N, seed)
    draws from its own generators: the split does not change a number.
    """
    jobs: dict[str, list[HopfieldPart]] = {}
    for name, run in hopfield["runs"].items():
        own = [int(N) for N in run.get("own_jobs", [])]
        by_seed = [int(N) for N in run.get("seed_jobs", [])]
        rest = tuple(int(N) for N in run["N"] if int(N) not in own + by_seed)
        if rest:
            jobs.setdefault(f"hopfield_{run.get('job', name)}", []).append(
                HopfieldPart(str(name), rest))
        for N in (int(N) for N in run["N"]):
            if N in own:
                jobs[f"hopfield_{name}_N{N}"] = [HopfieldPart(str(name), (N,))]
            elif N in by_seed:
                jobs.update({f"hopfield_{name}_N{N}_seed{seed}":
                             [HopfieldPart(str(name), (N,), (int(seed),))]
                             for seed in hopfield["seeds"]})
    return {job: tuple(parts) for job, parts in jobs.items()}


def packed_jobs(work: Mapping[str, float], limit: float) -> dict[str, list[str]]:
    """Parts (name -> estimated work, in their order) into jobs: a part joins the job before
    it while that job's work stays within ``limit``, so that small parts share the start-up of
    one job (Python, torch: ~2 s a job) and a part larger than the limit keeps its own. A job
    of one part is named as the part; of several, ``<first>_to_<last>`` (consecutive parts)."""
    groups: list[list[str]] = []
    held = math.inf
    for part, amount in work.items():
        if groups and held + amount <= limit:
            groups[-1].append(part)
            held += amount
        else:
            groups.append([part])
            held = amount
    return {(g[0] if len(g) == 1 else f"{g[0]}_to_{g[-1]}"): g for g in groups}


# Adam work units (expected steps x models x layers x batch) an icl stacks job may hold: the
# seeds and settings of a job train side by side (one batch; icl_training leaves a stopped model
# out), so a larger job pays its per-step overhead once for more models. config.yaml: 4 settings
# x 5 seeds (28.8M) a job.
ICL_JOB_WORK = 30_000_000
ICL_EXPECTED_STEPS = 5000  # steps a stack typically runs before its plateau (the cap is higher)
# Parts whose work together stays within this share one job (icl_jobs): two thirds of a job.
# config.yaml keeps a job per part (norm_4 with the step-cap control would be ~42 s);
# quick.yaml's parts (15M) share one job.
ICL_PACK_WORK = 20_000_000
# A token-path model (the designs, the normalised stacks) trains on tasks of N + QUERIES
# tokens, each ~1/8 of a moment-path layer step: measured at config.yaml's N = 40 and 5 seeds
# next to the stacks, per work unit counted at 16 tokens a unit: the stacks 1.9 us, the designs
# 2.9, norm_2 4.0, norm_4 5.3 (on a loaded machine: their ratios, not their times).
ICL_TOKENS_PER_UNIT = 8
ICL_QUERIES = 8  # experiments.icl.QUERIES (a test keeps the two equal)


def _icl_setting_work(cfg: Mapping[str, Any]) -> int:
    """Adam work units of one (Lambda, N) setting's stacks: expected steps x seeds x restarts x
    the depths' layers x batch."""
    depth_sum = sum(int(L) for L in cfg["depths"])
    return (min(int(cfg["steps"]), ICL_EXPECTED_STEPS) * len(cfg["seeds"])
            * int(cfg.get("restarts", 2)) * depth_sum * int(cfg["batch_size"]))


def icl_lsa_groups(cfg: Mapping[str, Any]) -> list[list[tuple[str, int]]]:
    """The (Lambda, N) settings of each icl stacks job: in config order, split into as few
    jobs as keep each within ICL_JOB_WORK, of sizes differing by one at most, so that small
    configs run few jobs (each job pays for starting Python and torch) and large ones stay
    under ~45 s each. Here, not in experiments/icl.py: the workflow reads it to declare its
    rules, without importing torch."""
    work = _icl_setting_work(cfg)
    settings = [(str(name), int(N)) for name in cfg["lambdas"] for N in cfg["context_sizes"]]
    n = len(settings)
    jobs = next((j for j in range(1, n + 1) if math.ceil(n / j) * work <= ICL_JOB_WORK), n)
    size, extra = divmod(n, jobs)
    groups, start = [], 0
    for i in range(jobs):
        stop = start + size + (i < extra)
        groups.append(settings[start:stop])
        start = stop
    return groups


def icl_sensitivity_variants(cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """label -> the budget of one alternative of ``icl.sensitivity`` (each choice changed alone
    from the main run's; the main run itself is not repeated), with ``control`` True for a step
    cap below the main one (an under-trained control, never an alternative of a claim)."""
    s = cfg["sensitivity"]
    base = {"learning_rate": float(cfg["learning_rate"]), "cap": int(cfg["steps"]),
            "clip": float(cfg["grad_clip"]), "init": "zfb"}
    out: dict[str, dict[str, Any]] = {}
    for field, key, label in (("steps", "cap", "steps"), ("learning_rates", "learning_rate", "lr"),
                              ("inits", "init", "init"), ("grad_clips", "clip", "clip")):
        for value in s.get(field, []):
            if value != base[key]:
                out[f"{label}={value}"] = {**base, key: value,
                                           "control": key == "cap" and value < base["cap"]}
    return out


def icl_sensitivity_jobs(cfg: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, int]]]]:
    """(alternative label, its (Lambda, N) settings) of each sensitivity job: every alternative
    of ``icl_sensitivity_variants`` on the main grid's Lambdas and its N (or the grid's own
    ``context_sizes``, a subset), its settings grouped as the main stacks' (``icl_lsa_groups``)
    at the grid's depths, seeds and the alternative's step cap."""
    s = cfg["sensitivity"]
    jobs = []
    sizes = s.get("context_sizes", cfg["context_sizes"])
    for label, v in icl_sensitivity_variants(cfg).items():
        sub = {**cfg, "depths": s["depths"], "seeds": s["seeds"], "steps": v["cap"],
               "context_sizes": sizes}
        jobs += [(label, group) for group in icl_lsa_groups(sub)]
    return jobs


def icl_parts(cfg: Mapping[str, Any]) -> list[str]:
    """The icl stage's parts (what experiments.icl.run_part computes): ``lsa_<i>`` per group of
    (Lambda, N) (``icl_lsa_groups``), ``designs`` (if any), ``norm_<L>`` per depth of the
    normalised stack, ``sensitivity_<i>`` per group of the sensitivity grid
    (``icl_sensitivity_jobs``). Its jobs: ``icl_jobs``."""
    return list(icl_part_work(cfg))


def icl_part_work(cfg: Mapping[str, Any]) -> dict[str, float]:
    """Each icl part (in ``icl_parts`` order) and its estimated Adam work units: a stacks group
    ``_icl_setting_work`` per setting; a token-path part the same at (shift.lambda,
    shift.context_size), one layer per design and L per normalised stack, times its tasks'
    tokens / ICL_TOKENS_PER_UNIT; a sensitivity group as a stacks group at the grid's depths,
    seeds and the alternative's step cap."""
    setting = _icl_setting_work(cfg)
    tokens = (int(cfg["shift"]["context_size"]) + ICL_QUERIES) / ICL_TOKENS_PER_UNIT
    token_step = _icl_setting_work({**cfg, "depths": [1]}) * tokens
    work: dict[str, float] = {f"lsa_{i}": setting * len(group)
                              for i, group in enumerate(icl_lsa_groups(cfg), 1)}
    if cfg["designs"]:
        work["designs"] = token_step * len(cfg["designs"])
    work.update({f"norm_{int(L)}": token_step * int(L) for L in cfg.get("norm_depths", [])})
    s = cfg["sensitivity"]
    variants = icl_sensitivity_variants(cfg)
    for i, (label, group) in enumerate(icl_sensitivity_jobs(cfg), 1):
        sub = {**cfg, "depths": s["depths"], "seeds": s["seeds"],
               "steps": variants[label]["cap"]}
        work[f"sensitivity_{i}"] = _icl_setting_work(sub) * len(group)
    return work


def icl_jobs(cfg: Mapping[str, Any]) -> dict[str, list[str]]:
    """The icl stage's part jobs: job name -> its parts (``icl_parts``, in order), consecutive
    parts sharing a job while their work together stays within ICL_PACK_WORK
    (``packed_jobs``): one job per part in config.yaml and large.yaml, whose parts are each
    ~10-35 s of one core; quick.yaml's small parts in one job, not five ~2 s start-ups."""
    return packed_jobs(icl_part_work(cfg), ICL_PACK_WORK)


def icl_part_tables(cfg: Mapping[str, Any], part: str) -> list[str]:
    """The tables experiments.icl.run_part returns for ``part`` (the workflow's outputs)."""
    if part.startswith("lsa_"):
        pairs = icl_lsa_groups(cfg)[int(part.removeprefix("lsa_")) - 1]
        here = (cfg["shift"]["lambda"], int(cfg["shift"]["context_size"])) in pairs
        return ["icl_preconditioner", "icl_risk", *(["icl_shift"] if here else []),
                "icl_training", "icl_convergence"]
    if part == "designs" or part.startswith("norm_"):
        return ["icl_risk", "icl_shift", "icl_training", "icl_convergence"]
    return ["icl_sensitivity", "icl_convergence"]


def hopfield_job_problems(hopfield: Mapping[str, Any]) -> list[str]:
    """Run names that would make an invalid rule or stage name, ``own_jobs`` / ``seed_jobs``
    off the run's grid or in both, and job names that collide (a run ``a_N50`` beside a run
    ``a`` whose N = 50 has its own job); runs naming the same ``job`` share it."""
    problems = [f"config field 'hopfield.runs.{name}': the run name must be a Python identifier "
                "(letters, digits, _; not starting with a digit), as it names the run's jobs "
                f"(rule hopfield_{name}); rename it, e.g. {re.sub(r'[^A-Za-z0-9_]', '_', name)!r}"
                for name in hopfield["runs"] if not RUN_NAME.match(str(name))]
    if problems:
        return problems
    for name, run in hopfield["runs"].items():
        grid = [int(N) for N in run["N"]]
        for field in ("own_jobs", "seed_jobs"):
            off = [N for N in run.get(field, []) if int(N) not in grid]
            if off:
                problems.append(f"config field 'hopfield.runs.{name}.{field}' has {off}, not in "
                                f"the run's N grid {grid}; list only N of its grid (a config "
                                "that overrides the grid overrides this list too, [] for none)")
        both = sorted(set(run.get("own_jobs", [])) & set(run.get("seed_jobs", [])))
        if both:
            problems.append(f"config field 'hopfield.runs.{name}.seed_jobs' has {both}, also in "
                            "own_jobs; list each N in one of them")
    if problems:
        return problems
    # A grid job (hopfield_<job>) is shared by the runs naming it; any other name is one job's.
    owners: dict[str, tuple[str, bool]] = {}  # job -> (its first run, a grid job)
    for name, run in hopfield["runs"].items():
        for job in hopfield_jobs({"runs": {name: run}, "seeds": hopfield["seeds"]}):
            grid = job == f"hopfield_{run.get('job', name)}"
            other, shared = owners.setdefault(job, (name, grid))
            if other != name and not (grid and shared):
                problems.append(f"config field 'hopfield.runs.{name}': its job {job} is also a "
                                f"job of run {other}; rename one of the runs")
    return problems


def hopfield_problems(hopfield: Mapping[str, Any]) -> list[str]:
    """Per run: the cue noise flips exactly rho N bits, so rho N must be an integer on its grid;
    a softmax temperature only for softmax; and no M up to max_patterns may take an integer
    field past float64's exact integers (2^53)."""
    problems = hopfield_job_problems(hopfield)
    for name, run in hopfield["runs"].items():
        field = f"hopfield.runs.{name}"
        rho = float(run.get("rho", hopfield["rho"]))
        bad = [N for N in run["N"] if abs(rho * N - round(rho * N)) > 1e-9]
        if bad:
            problems.append(f"config field '{field}.N' has {bad}, where rho N is not an "
                            f"integer (rho = {rho:g}); choose N that are multiples of 1 / rho")
        if "beta" in run and run["model"] != "softmax":
            problems.append(f"config field '{field}.beta' is set, but model {run['model']} has "
                            "no temperature; remove it")
        own = float(run.get("min_overlap", hopfield["min_overlap"]))
        recall = [float(v) for v in run.get("recall_criteria", [own])]
        if own not in recall:
            problems.append(f"config field '{field}.recall_criteria' = {recall} lacks the run's "
                            f"own criterion min_overlap = {own:g} (the default it varies); add "
                            f"{own:g}")
        M = int(hopfield["max_patterns"])
        inexact = [N for N in run["N"] if exact_dtype(run["model"], int(N), M) is None]
        if inexact:
            problems.append(f"config field '{field}.N' has {inexact}, where {M} patterns "
                            f"(hopfield.max_patterns) of model {run['model']} take the field "
                            "past float64's exact integers (2^53); lower N or max_patterns")
    scales = hopfield["criteria"]["tolerance_scales"]
    if 1.0 not in [float(x) for x in scales]:
        problems.append(f"config field 'hopfield.criteria.tolerance_scales' = {scales}: must "
                        "include 1 (the chosen tolerances themselves); add 1")
    return problems


def _icl_schema(*path: str) -> Any:
    """The schema of ``icl.<path>`` (its allowed names are written there, once)."""
    node = _package_schema()["properties"]["icl"]
    for key in path:
        node = node["properties"][key]
    return node


def _icl_problem(field: str, value: Any, fix: str) -> str:
    return f"config field 'icl.{field}' = {value!r}: {fix}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _icl_ints(cfg: Mapping[str, Any], field: str, low: int, problems: list[str],
              why: str = "", prefix: str = "") -> list[int]:
    """``cfg[field]`` if a non-empty list of distinct integers >= ``low``; else the problems."""
    values = cfg.get(field)
    field = prefix + field
    if (not isinstance(values, Sequence) or isinstance(values, str) or not values
            or not all(_is_int(v) for v in values)):
        problems.append(_icl_problem(field, values, "give a non-empty list of integers"))
        return []
    if len(set(values)) != len(values):
        problems.append(_icl_problem(field, values, "remove the repeated entries"))
    small = [v for v in values if v < low]
    if small:
        problems.append(_icl_problem(field, values, f"entries {small} are below {low}{why}"))
    return list(values)


def _icl_positive(cfg: Mapping[str, Any], field: str, problems: list[str],
                  integer: bool = False, zero: bool = False) -> None:
    value = cfg.get(field)
    ok = _is_int(value) if integer else _is_finite(value)
    if not ok or value < 0 or (value == 0 and not zero):
        what = "an integer" if integer else "a finite number"
        problems.append(_icl_problem(field, value, f"must be {what} {'>=' if zero else '>'} 0"))


def icl_problems(icl: Mapping[str, Any]) -> list[str]:
    """Everything wrong with an ``icl`` config section, each naming the field, the value and
    the fix: N > d + 1 (in-context OLS has a finite risk only there), depth 1 present (the
    preconditioner is read from the one-layer model), eval_every <= steps, 0 < smallest <=
    largest for each Lambda, the shift study's and the sensitivity grid's Lambda and N among
    the grids, a no-shift reference in every shift family, scale factors > 0. The one place
    these rules are written: ``validate_config`` runs it after the schema, and
    ``experiments.icl`` on the section it is handed (tests and notebooks hand one the schema has
    not seen), so each value's type is checked here too (the allowed names come from the
    schema). Torch-free."""
    out: list[str] = []
    for field in ("d", "steps", "batch_size", "test_tasks", "validation_tasks", "eval_every",
                  "mlp_width"):
        _icl_positive(icl, field, out, integer=True)
    patience = icl.get("patience")
    if not _is_int(patience) or patience < 1:
        out.append(_icl_problem("patience", patience, "give the number of evaluations without "
                                                      "improvement before a model stops, >= 1"))
    tolerance = icl.get("tolerance")
    if not _is_finite(tolerance) or not 0 < tolerance < 1:
        out.append(_icl_problem("tolerance", tolerance, "give the relative improvement of the "
                                                        "validation loss that counts, 0 < t < 1"))
    restarts = icl.get("restarts")
    if not _is_int(restarts) or restarts < 2:
        out.append(_icl_problem("restarts", restarts, "give at least 2 starts per setting (their "
                                                      "agreement shows convergence)"))
    reductions = icl.get("lr_reductions")
    if not _is_int(reductions) or not 0 <= reductions <= 10:
        out.append(_icl_problem("lr_reductions", reductions, "give an integer in 0..10"))
    norm = icl.get("norm_depths", [])
    if (not isinstance(norm, Sequence) or isinstance(norm, str)
            or not all(_is_int(v) and 2 <= v <= 16 for v in norm)):
        out.append(_icl_problem("norm_depths", norm, "give a list of depths in 2..16 (the "
                                                     "normalised stack; [] for none)"))
    every, steps = icl.get("eval_every"), icl.get("steps")
    if _is_int(every) and _is_int(steps) and every > steps:
        out.append(_icl_problem("eval_every", every, f"must be at most icl.steps ({steps}): no "
                                                     "validation would happen before the cap"))
    heads = icl.get("heads")
    if not _is_int(heads) or not 2 <= heads <= 16:
        out.append(_icl_problem("heads", heads, "the multi-head design needs an integer number "
                                                "of heads in 2..16 (one head is the one-layer "
                                                "model)"))
    known_designs = _icl_schema("designs")["items"]["enum"]
    designs = icl.get("designs")
    if not isinstance(designs, Sequence) or isinstance(designs, str):
        out.append(_icl_problem("designs", designs,
                                f"give a list drawn from {', '.join(known_designs)}"))
    else:
        unknown = [x for x in designs if x not in known_designs]
        if unknown:
            out.append(_icl_problem("designs", list(designs), f"unknown design(s) {unknown}; "
                                                              f"known: {', '.join(known_designs)}"))
        if len(set(map(str, designs))) != len(designs):
            out.append(_icl_problem("designs", list(designs), "remove the repeated entries"))
    _icl_positive(icl, "population_seed", out, integer=True, zero=True)
    for field in ("learning_rate", "init_scale", "lsa_init_scale"):
        _icl_positive(icl, field, out)
    _icl_positive(icl, "noise_sigma", out, zero=True)
    _icl_positive(icl, "grad_clip", out, zero=True)
    devices = _icl_schema("device")["enum"]
    if icl.get("device") not in devices:
        out.append(_icl_problem("device", icl.get("device"), f"choose one of {', '.join(devices)}"))
    d = icl["d"] if _is_int(icl.get("d")) else 1
    sizes = _icl_ints(icl, "context_sizes", d + 2, out,
                      " = d + 2 (in-context OLS has a finite risk only for N > d + 1; raise N "
                      "or lower icl.d)")
    depths = _icl_ints(icl, "depths", 1, out)
    if depths and 1 not in depths:
        out.append(_icl_problem("depths", depths, "include 1 (the learned preconditioner is "
                                                  "read from the one-layer model)"))
    seeds = _icl_ints(icl, "seeds", 0, out)
    if seeds and len(set(seeds)) < MIN_REPLICATES:
        out.append(_icl_problem("seeds", seeds, f"give at least {MIN_REPLICATES} distinct seeds "
                                                "(the rows are decided by t intervals over them; "
                                                "each seed redraws every random stream)"))
    lambdas = icl.get("lambdas")
    if not isinstance(lambdas, Mapping) or not lambdas:
        out.append(_icl_problem("lambdas", lambdas,
                                "give at least one {name: {largest, smallest}}"))
        lambdas = {}
    for name, spec in lambdas.items():
        try:
            hi, lo = float(spec["largest"]), float(spec["smallest"])
        except (TypeError, KeyError, ValueError):
            out.append(_icl_problem(f"lambdas.{name}", spec, "give {largest: x, smallest: y}"))
            continue
        if not (math.isfinite(hi) and math.isfinite(lo) and 0 < lo):
            out.append(_icl_problem(f"lambdas.{name}", dict(spec), "eigenvalues need 0 < "
                                    "smallest <= largest, both finite"))
        elif lo > hi:
            out.append(_icl_problem(f"lambdas.{name}", dict(spec), "eigenvalues need smallest "
                                    "<= largest; swap them"))
    shift = icl.get("shift") or {}
    if shift.get("lambda") not in lambdas:
        out.append(_icl_problem("shift.lambda", shift.get("lambda"),
                                f"name one of icl.lambdas ({', '.join(map(str, lambdas))})"))
    if shift.get("context_size") not in sizes:
        out.append(_icl_problem("shift.context_size", shift.get("context_size"),
                                f"choose one of icl.context_sizes {sizes}"))
    families = shift.get("families")
    if not isinstance(families, Mapping) or not families:
        out.append(_icl_problem("shift.families", families, "give {family: [magnitudes]}"))
        families = {}
    for family, magnitudes in families.items():
        field = f"shift.families.{family}"
        if family not in ICL_NO_SHIFT:
            out.append(_icl_problem(field, magnitudes,
                                    f"unknown family; known: {', '.join(ICL_NO_SHIFT)}"))
            continue
        if (not isinstance(magnitudes, Sequence) or isinstance(magnitudes, str)
                or not all(_is_finite(t) for t in magnitudes)):
            out.append(_icl_problem(field, magnitudes, "give a list of finite numbers"))
            continue
        if ICL_NO_SHIFT[family] not in magnitudes:
            out.append(_icl_problem(field, magnitudes, f"include the no-shift value "
                                                       f"{ICL_NO_SHIFT[family]:g} (the reference)"))
        if family in ICL_SCALE_FAMILIES and magnitudes and min(magnitudes) <= 0:
            out.append(_icl_problem(field, magnitudes, "scale factors must be > 0"))
    out += _icl_sensitivity_problems(icl.get("sensitivity"))
    chosen = (icl.get("sensitivity") or {}).get("context_sizes") if isinstance(
        icl.get("sensitivity"), Mapping) else None
    off = [N for N in chosen or [] if N not in (sizes or [])]
    if off:
        out.append(_icl_problem("sensitivity.context_sizes", chosen,
                                f"entries {off} are not in icl.context_sizes; the grid re-judges "
                                "the main run's settings: choose among them"))
    criteria = icl.get("criteria")
    known = list(_icl_schema("criteria")["properties"])
    if criteria is not None and not isinstance(criteria, Mapping):
        out.append(_icl_problem("criteria", criteria, "give {name: value} (names: "
                                                      f"{', '.join(known)})"))
    else:
        unknown = sorted(set(criteria or {}) - set(known))
        if unknown:
            out.append(_icl_problem("criteria", sorted(criteria or {}),
                                    f"unknown criteria {unknown}; known: {sorted(known)}"))
    return out


def _icl_sensitivity_problems(s: Any) -> list[str]:
    """``icl.sensitivity``: its depths (1 present), seeds (at least ``MIN_REPLICATES``: its rows
    are judged on t intervals), step caps, learning rates, clips and inits."""
    out: list[str] = []
    if not isinstance(s, Mapping):
        return [_icl_problem("sensitivity", s, "give {depths, seeds, steps, learning_rates, "
                                               "inits, grad_clips}")]
    depths = _icl_ints(s, "depths", 1, out, prefix="sensitivity.")
    if depths and 1 not in depths:
        out.append(_icl_problem("sensitivity.depths", depths, "include 1 (the learned Gamma)"))
    seeds = _icl_ints(s, "seeds", 0, out, prefix="sensitivity.")
    if seeds and len(set(seeds)) < MIN_REPLICATES:
        out.append(_icl_problem("sensitivity.seeds", seeds,
                                f"give at least {MIN_REPLICATES} distinct seeds (each "
                                "alternative is judged on t intervals)"))
    _icl_ints(s, "steps", 1, out, prefix="sensitivity.")
    for field, zero in (("learning_rates", False), ("grad_clips", True)):
        values = s.get(field)
        if not isinstance(values, Sequence) or isinstance(values, str) or not all(
                _is_finite(v) and (v >= 0 if zero else v > 0) for v in values):
            out.append(_icl_problem(f"sensitivity.{field}", values,
                                    "give a list of finite numbers, " + (
                                        "each >= 0 (0 = no clip)" if zero else "each > 0")))
    inits = _icl_schema("sensitivity", "inits")["items"]["enum"]
    given = s.get("inits")
    if not isinstance(given, Sequence) or isinstance(given, str) or any(
            i not in inits for i in given):
        out.append(_icl_problem("sensitivity.inits", given,
                                f"give a list drawn from {', '.join(inits)}"))
    return out


# The second seed paper's Monte Carlo designs (attention_regression.DESIGNS; a test keeps the
# two equal: the math module imports torch, which config validation does not).
AR_DESIGNS = ("linear", "friedman1", "friedman2", "friedman3", "rotated_sine", "soft_radial")
AR_P = 5  # covariates of every design
AR_VARIANTS = ("paper", "validation", "masked")


def _snr_label(snr: float) -> str:
    return f"{float(snr):g}".replace(".", "p")


def attention_regression_parts(cfg: Mapping[str, Any]) -> list[str]:
    """The attention_regression stage's parts (what experiments.attention_regression.run_part
    computes): ``identity`` (the algebra) and one per (design, N, SNR) condition,
    ``<design>_n<N>_snr<SNR>`` ('.' written 'p'). Here, not in the experiment: the workflow
    reads them to declare its jobs (``attention_regression_jobs``), without importing torch."""
    return ["identity"] + [f"{design}_n{int(n)}_snr{_snr_label(snr)}" for design in cfg["designs"]
                           for n in cfg["sizes"] for snr in cfg["snrs"]]


# Seconds of one core an attention_regression part takes, estimated to pack small parts into one
# job (each job pays ~2.5 s to start Python, torch, sklearn and scipy): an Attention Regression
# fit ~0.02 s per LBFGS step up to N = 500 (4-9 s at N = 500 and 300 steps; 0.02-0.04 s at
# N = 60), growing as N^2 beyond; a replicate's baselines (OLS, RF, GBM, NW, MLP) ~0.5 s at
# quick.yaml's N = 60; the algebra part ~1 s in every shipped config.
AR_STEP_SECONDS = 0.02
AR_BASELINE_SECONDS = 0.5
AR_IDENTITY_SECONDS = 1.0
# Parts estimated within this together share one job: config.yaml's and large.yaml's
# conditions (~20 s and more each) keep a job each; quick.yaml's identity and conditions (~4 s)
# share one.
AR_PACK_SECONDS = 10.0


def attention_regression_part_work(cfg: Mapping[str, Any]) -> dict[str, float]:
    """Each part of ``attention_regression_parts`` (in order) and its estimated seconds: the
    identity AR_IDENTITY_SECONDS; a condition, per replicate, its baselines and a fit per
    variant (AR_STEP_SECONDS a step, times (N / 500)^2 above N = 500)."""
    work = {"identity": AR_IDENTITY_SECONDS}
    for part in attention_regression_parts(cfg)[1:]:
        _, n, _ = condition_of_part(part)
        fit = int(cfg["steps"]) * AR_STEP_SECONDS * max(1.0, (n / 500) ** 2)
        mlp = len(cfg["mlp"]["runs"]) * int(cfg["mlp"]["ensemble"]) * AR_BASELINE_SECONDS
        work[part] = int(cfg["replicates"]) * (
            len(cfg["seeds"]) * (AR_BASELINE_SECONDS + len(cfg["variants"]) * fit) + mlp)
    return work


def attention_regression_jobs(cfg: Mapping[str, Any]) -> dict[str, list[str]]:
    """The attention_regression stage's part jobs: job name -> its parts
    (``attention_regression_parts``, in order), consecutive parts sharing a job while their
    estimated seconds together stay within AR_PACK_SECONDS (``packed_jobs``)."""
    return packed_jobs(attention_regression_part_work(cfg), AR_PACK_SECONDS)


def condition_of_part(part: str) -> tuple[str, int, float]:
    """(design, N, SNR) of a condition part named by ``attention_regression_parts``."""
    design, n, snr = part.rsplit("_", 2)
    return design, int(n.removeprefix("n")), float(snr.removeprefix("snr").replace("p", "."))


def attention_regression_part_tables(part: str) -> list[str]:
    """The tables experiments.attention_regression.run_part returns for ``part``."""
    return (["ar_identity", "ar_optimisation", "ar_kernel"] if part == "identity"
            else ["ar_r2"])


def attention_regression_problems(cfg: Mapping[str, Any]) -> list[str]:
    """What the schema does not say about the ``attention_regression`` section: designs known,
    SNR > 0, N >= p + 2 (OLS with an intercept needs N > p + 1 for a residual), head count >= 1,
    penalties >= 0, a validation split that leaves p + 2 rows on each side."""
    def problem(field: str, value: Any, fix: str) -> str:
        return f"config field 'attention_regression.{field}' = {value!r}: {fix}"

    problems = []
    unknown = [d for d in cfg["designs"] if d not in AR_DESIGNS]
    if unknown:
        problems.append(problem("designs", list(cfg["designs"]), f"unknown design(s) {unknown}; "
                                f"choose among {', '.join(AR_DESIGNS)}"))
    bad = [s for s in cfg["snrs"] if not float(s) > 0]
    if bad:
        problems.append(problem("snrs", list(cfg["snrs"]), f"entries {bad} are not > 0 (SNR = "
                                "var(signal) / var(noise)); use positive values"))
    small = [n for n in cfg["sizes"] if int(n) < AR_P + 2]
    if small:
        problems.append(problem("sizes", list(cfg["sizes"]), f"entries {small} are below p + 2 = "
                                f"{AR_P + 2} (p = {AR_P} covariates); raise N"))
    if int(cfg["heads"]) < 1:
        problems.append(problem("heads", cfg["heads"], "at least 1 attention head"))
    for field in ("penalty", "refit_penalty"):
        if float(cfg[field]) < 0:
            problems.append(problem(field, cfg[field], "a penalty must be >= 0"))
    stray = [s for s in cfg["mlp"]["runs"] if s not in cfg["seeds"]]
    if stray:
        problems.append(problem("mlp.runs", list(cfg["mlp"]["runs"]), f"{stray} not among "
                                f"attention_regression.seeds {list(cfg['seeds'])}; the MLP runs "
                                "on runs of the Monte Carlo: list base seeds from seeds"))
    unknown = [v for v in cfg["variants"] if v not in AR_VARIANTS]
    if unknown:
        problems.append(problem("variants", list(cfg["variants"]), f"unknown variant(s) "
                                f"{unknown}; choose among {', '.join(AR_VARIANTS)}"))
    if "validation" in cfg["variants"]:
        fraction = float(cfg["validation_fraction"])
        for n in cfg["sizes"]:
            held = int(round(fraction * int(n)))
            if min(held, int(n) - held) < AR_P + 2:
                problems.append(problem("validation_fraction", fraction, f"at N = {n} it leaves "
                                        f"{held} validation and {int(n) - held} fitting rows; "
                                        f"each needs >= {AR_P + 2}: choose a fraction in (0, 1) "
                                        "or raise N"))
                break
    ident = cfg["identity"]
    if int(ident["n"]) < int(ident["p"]) + 2:
        problems.append(problem("identity.n", ident["n"], f"below identity.p + 2 = "
                                f"{int(ident['p']) + 2}; raise n"))
    return problems


def _range_problems(config: Mapping[str, Any]) -> list[str]:
    problems = []
    for section, low, high in (("proof", "sigma_route_slope_min", "sigma_route_slope_max"),
                               ("hopfield", "linear_slope_min", "linear_slope_max")):
        crit = config[section]["criteria"]
        if crit[low] > crit[high]:
            problems.append(f"config fields '{section}.criteria.{low}' = {crit[low]} and "
                            f"'{section}.criteria.{high}' = {crit[high]}: the range is empty")
    return problems


def _cross_field_problems(config: Mapping[str, Any]) -> list[str]:
    """Checks a JSON schema cannot express."""
    problems = _non_finite(config, "")
    if problems:
        return problems
    return (data_problems(config["data"]) + shift_problems(config["shift"])
            + hopfield_problems(config["hopfield"]) + icl_problems(config["icl"])
            + attention_regression_problems(config["attention_regression"])
            + _range_problems(config) + replicate_problems(config) + choice_problems(config)
            + judged_input_problems(config) + origin_problems(config) + sweep_problems(config))


# ---- inputs that run but cannot judge what they are for ----------------------------------------
# The no-shift slope of the shift stage is fitted on at least this many context sizes
# (checks.shift.MIN_CONTEXT_SIZES; a test keeps the two equal: config imports no checks).
SHIFT_MIN_CONTEXT_SIZES = 5
AR_MIN_REPLICATES = 2  # an interval over replicates needs two at least


def judged_input_problems(config: Mapping[str, Any]) -> list[str]:
    """Values a run would accept and compute with for minutes, and then judge nothing or judge
    trivially: a shift family without its no-shift reference (the paper's shift rows MISSING),
    fewer context sizes than the no-shift slope is fitted on, attention_regression with fewer
    than 2 replicates (no interval) or no variant (only baselines), and an optimisation view
    with n <= p + 1 (Omega fits any target exactly: the check passes trivially)."""
    problems = []
    shift = config["shift"]
    for family, magnitudes in shift["families"].items():
        if family in NO_SHIFT and NO_SHIFT[family] not in map(float, magnitudes):
            problems.append(f"config field 'shift.families.{family}' = {list(magnitudes)}: "
                            f"include the no-shift value {NO_SHIFT[family]:g} (every shift is "
                            "judged against it; without it the paper's shift rows are MISSING)")
    sizes = shift["context_sizes"]
    if len(sizes) < SHIFT_MIN_CONTEXT_SIZES:
        problems.append(f"config field 'shift.context_sizes' = {list(sizes)}: give at least "
                        f"{SHIFT_MIN_CONTEXT_SIZES} context sizes (the no-shift m^-1/2 slope is "
                        "fitted on them)")
    ar = config["attention_regression"]
    if int(ar["replicates"]) < AR_MIN_REPLICATES:
        problems.append(f"config field 'attention_regression.replicates' = {ar['replicates']}: "
                        f"give at least {AR_MIN_REPLICATES} (its rows are judged on intervals "
                        "over replicates)")
    if not ar["variants"]:
        problems.append("config field 'attention_regression.variants' = []: name at least one "
                        f"of {', '.join(AR_VARIANTS)} (without one no Attention Regression is "
                        "fitted, only its baselines)")
    opt = ar["optimisation"]
    if int(opt["n"]) < int(opt["p"]) + 2:
        problems.append(f"config field 'attention_regression.optimisation.n' = {opt['n']}: "
                        f"must be at least optimisation.p + 2 = {int(opt['p']) + 2} (with n <= "
                        "p + 1 rows any Omega fits the targets and the check passes trivially); "
                        "raise n")
    return problems


# Sections whose computing jobs run on ``device`` (auto: cuda where visible, else cpu).
DEVICE_SECTIONS = ("hopfield", "icl", "attention_regression")


def cuda_requests(config: Mapping[str, Any]) -> list[str]:
    """The fields that ask for a GPU: ``<section>.device`` set to cuda."""
    return [f"{section}.device" for section in DEVICE_SECTIONS
            if isinstance(config.get(section), Mapping)
            and config[section].get("device") == "cuda"]


def cuda_visible() -> bool:
    """Whether torch sees a CUDA device here (imports torch: call only where one is asked
    for)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def device_problems(config: Mapping[str, Any], visible: bool | None = None) -> list[str]:
    """``device: cuda`` where this machine has no visible GPU, one line per field with the
    fix. ``visible``: whether one is (default: ask torch, only if a field asks for cuda)."""
    asked = cuda_requests(config)
    if not asked:
        return []
    if visible is None:
        visible = cuda_visible()
    return [] if visible else [
        f"config field '{field}' = 'cuda': no CUDA device is visible on this machine; set it "
        "to auto (cuda where there is one) or cpu, or run on a node with a GPU (the SLURM "
        "profile asks for one)" for field in asked]


# ---- config files, read as Snakemake reads them, with the file and line of a problem ----------
def load_config_file(path: str | Path) -> dict[str, Any]:
    """A config file as a dict; ConfigError naming the file (and the line and column of a YAML
    error) where it is missing, not YAML, or not a mapping. (Snakemake reads ``--configfile``
    files before the workflow runs, and its error names neither: ``ols-transformer config``
    reads them with this.)"""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist"
                          + (" (it is a directory)" if path.is_dir() else "")
                          + "; check its path (relative to the directory snakemake runs in)")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"config file {path}{where}: not valid YAML ({_one_line(problem)}); "
                          "indent with spaces only, and close every bracket and quote") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path}: its top level is a {type(loaded).__name__}, "
                          "not a mapping of sections (run_name:, data:, ...)")
    return loaded


def deep_merged(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` merged into ``base`` (in place, and returned) key by key, a nested mapping
    into the nested one: as Snakemake merges the workflow's config file and ``--configfile``
    files."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merged(base[key], value)
        else:
            base[key] = value
    return base


def merged_config_files(paths: Sequence[str | Path]) -> dict[str, Any]:
    """The files merged in order, each key of a later file over the earlier's
    (``deep_merged``)."""
    config: dict[str, Any] = {}
    for path in paths:
        deep_merged(config, load_config_file(path))
    return config
