# Hopfield capacity (paper Section 4): the largest number of stored patterns each associative
# memory retrieves from corrupted cues, against N. Scatter and gather: one job per run (or per
# `job` that light runs share), and one per heavy N (a run's `own_jobs`) or per heavy N and seed
# (`seed_jobs`): HOPFIELD_JOBS in
# common.smk, each its own stage (reuse per job); then the gather `hopfield`: the table in the
# config's run order, the growth fits, the checks and the figure. The parts are the gather's
# inputs: if one cannot be made, Snakemake names its file and rule (hopfield_<run>) and runs no
# gather; the gather refuses parts that miss a (run, N, seed), naming the job.

HOPFIELD_CATEGORY = "4. Hopfield capacity (Section 4)"
HOPFIELD_PARTS = {job: f"parts/hopfield/{job}.csv" for job in HOPFIELD_JOBS}  # in its stage


for _job, _parts in HOPFIELD_JOBS.items():

    rule:
        name:
            _job
        output:
            table=out(_job, HOPFIELD_PARTS[_job]),
            provenance=prov(_job),
        log:
            log_file(_job),
        benchmark:
            benchmark_file(_job)
        priority: PRIORITY["hopfield_part"]
        conda:
            CONDA_ENV
        threads: 1
        resources:
            runtime=by_attempt(30),
            mem_mb=by_attempt(4000),
        params:
            cfg=stage_config(_job, "hopfield"),
            parts=[
                dict(
                    run=part.run,
                    N=list(part.N),
                    seeds=None if part.seeds is None else list(part.seeds),
                )
                for part in _parts
            ],
        script:
            "../scripts/hopfield_part.py"


rule hopfield:
    """Gather the parts (capacity of each run, N and seed: doubling + bisection on M): the mean
    and t-interval over seeds, the growth fits, Amit's criterion, softmax's temperatures, the
    checks and the capacity figure."""
    input:
        parts=[f"{stage_dir(job)}/{path}" for job, path in HOPFIELD_PARTS.items()],
    output:
        table=report(
            out("hopfield", "tables/hopfield_capacity.csv"),
            caption="../report/hopfield_capacity.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "table", "hopfield_capacity"),
        ),
        growth=report(
            out("hopfield", "tables/hopfield_growth.csv"),
            caption="../report/hopfield_growth.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "table", "hopfield_growth"),
        ),
        amit=report(
            out("hopfield", "tables/hopfield_amit.csv"),
            caption="../report/hopfield_amit.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "table", "hopfield_amit"),
        ),
        softmax=report(
            out("hopfield", "tables/hopfield_softmax.csv"),
            caption="../report/hopfield_softmax.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "table", "hopfield_softmax"),
        ),
        summary=out("hopfield", "tables/hopfield_summary.csv"),
        figure_pdf=out("hopfield", "figures/hopfield_capacity.pdf"),
        figure_png=report(
            out("hopfield", "figures/hopfield_capacity.png"),
            caption="../report/hopfield_figure.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "figure", "hopfield_capacity"),
        ),
        provenance=prov("hopfield"),
    log:
        log_file("hopfield"),
    benchmark:
        benchmark_file("hopfield", after=list(HOPFIELD_JOBS))
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(2000),
    params:
        cfg=stage_config("hopfield", "hopfield"),
    script:
        "../scripts/hopfield.py"
