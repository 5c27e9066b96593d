# Hopfield capacity (paper Section 4): the largest number of stored patterns each associative
# memory retrieves from corrupted cues, against N. Scatter and gather: one hopfield_part job
# per part (a run, runs sharing a `job`, a heavy N or N and seed: config.hopfield_jobs), each
# its own reuse unit hopfield_<part>; then the gather `hopfield`: the table in the config's run
# order, the growth fits, the checks and the figure. If a part cannot be made, Snakemake names
# it and runs no gather; the gather refuses parts that miss a (run, N, seed), naming the job.


rule hopfield_part:
    """One part: the capacity of each (run, N, seed) it holds (doubling + bisection on M)."""
    output:
        **part_outputs("hopfield"),
    log:
        part_log("hopfield"),
    benchmark:
        part_benchmark("hopfield")
    wildcard_constraints:
        **part_constraints("hopfield"),
    priority: priority("hopfield", part=True)
    conda:
        conda_env("hopfield", part=True)
    threads: 1
    resources:
        **resources("hopfield", part=True),
    params:
        **part_params("hopfield"),
    script:
        "../scripts/hopfield_part.py"


rule hopfield:
    """Gather the parts: the mean and t-interval over seeds, the growth fits, Amit's criterion,
    softmax's temperatures, the checks and the capacity figure."""
    input:
        parts=part_inputs("hopfield"),
    output:
        **outputs("hopfield"),
    log:
        log_file("hopfield"),
    benchmark:
        benchmark_file("hopfield")
    priority: priority("hopfield")
    conda:
        conda_env("hopfield")
    threads: 1
    resources:
        **resources("hopfield"),
    params:
        cfg=stage_config("hopfield", "hopfield"),
    script:
        "../scripts/hopfield.py"
