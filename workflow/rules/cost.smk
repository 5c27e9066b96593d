# What the run cost: every job's seconds and peak memory (its benchmark file, kept in its unit's
# directory), per stage, the critical path through the job DAG and the sum over it
# (src/ols_transformer/cost.py; `ols-transformer cost results/<version>` prints it). Outside
# tables/: timings differ run to run, the tables not.


# The units whose jobs this run needs: the selected ones, their parts and what they read.
COST_UNITS = []
_todo = list(SELECTED)
while _todo:
    _unit = _todo.pop()
    if _unit not in COST_UNITS:
        COST_UNITS.append(_unit)
        _todo.extend(SPECS[_unit].upstream)
COST_JOB_LIST = [
    dict(
        name=unit,
        stage=stage_of(unit),
        benchmark=benchmark_file(unit),
        provenance=prov(unit),
        after=sorted(SPECS[unit].upstream),
    )
    for unit in SPECS
    if unit in COST_UNITS
]


rule cost:
    """Per job seconds and peak RSS, per stage totals, the critical path and sum / critical
    path, from the benchmark files of every job (a reused stage's: of the job that computed
    it)."""
    input:
        benchmarks=[job["benchmark"] for job in COST_JOB_LIST],
        provenance=[job["provenance"] for job in COST_JOB_LIST],
    output:
        table=report(
            protected(f"{VERSION_DIR}/cost/cost.csv"),
            caption="../report/cost.rst",
            category=registry.COST,
            labels=report_labels("cost.csv"),
        ),
    log:
        f"{VERSION_DIR}/logs/cost.log",
    group:
        "summary"
    conda:
        conda_env()
    threads: 1
    resources:
        runtime=by_attempt(5),
        mem_mb=by_attempt(1000),
    params:
        jobs=COST_JOB_LIST,
        version=VERSION,
    script:
        "../scripts/cost.py"
