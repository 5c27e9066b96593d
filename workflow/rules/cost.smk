# What the run cost: every job's seconds and peak memory (its benchmark file, kept in its stage
# directory), per stage, the critical path through the job DAG and the sum over it
# (src/ols_transformer/cost.py; `ols-transformer cost results/<version>` prints it). Include
# after every rule with a benchmark. Outside tables/: timings differ run to run, the tables not.

# Job -> the jobs it waits for: those of its stage's upstream stages, and its own `after`.
COST_AFTER = {
    job: sorted(
        {
            *spec["after"],
            *(
                other
                for other, other_spec in COST_JOBS.items()
                if other_spec["stage"] in STAGE_SPECS[spec["stage"]].upstream
            ),
        }
    )
    for job, spec in COST_JOBS.items()
}
# The jobs of the stages this run copies (all, unless OLS_TRANSFORMER_STAGES names some).
COST_SELECTED = [job for job, spec in COST_JOBS.items() if spec["stage"] in VERSION_STAGES]
COST_JOB_LIST = [
    dict(
        name=job,
        stage=COST_JOBS[job]["stage"],
        benchmark=COST_JOBS[job]["benchmark"],
        provenance=COST_JOBS[job]["provenance"],
        after=[other for other in COST_AFTER[job] if other in COST_SELECTED],
    )
    for job in COST_SELECTED
]


rule cost:
    """Per job seconds and peak RSS, per stage totals, the critical path and sum / critical
    path, from the benchmark files of every job (a reused stage's: of the job that computed
    it)."""
    input:
        benchmarks=[job["benchmark"] for job in COST_JOB_LIST],
        provenance=sorted({job["provenance"] for job in COST_JOB_LIST}),
    output:
        table=report(
            version_out("cost/cost.csv"),
            caption="../report/cost.rst",
            category="7. Cost of the run",
            labels={"stage": "run", "kind": "table", "name": "cost"},
        ),
    log:
        f"{VERSION_DIR}/logs/cost.log",
    group:
        "summary"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(5),
        mem_mb=by_attempt(1000),
    params:
        jobs=COST_JOB_LIST,
        version=VERSION,
    script:
        "../scripts/cost.py"


ALL_TARGETS.extend(rules.cost.output)
