# Beyond the paper: does training find the OLS-Transformer, and do the paper's Sec. 5 designs
# make it robust? Linear self-attention of depth 1-4, softmax attention, two-head attention and
# attention + GELU MLP trained on in-context regression with early stopping; the learned
# preconditioner against Gamma* and Lambda^-1, the risk against every baseline (L-step PGD for
# the stacks), the error under test-time shift, and the sensitivity grid. One icl_part job per
# part (a group of Lambdas, the designs, a normalised stack, a group of the sensitivity grid:
# config.icl_parts), or per run of small parts (config.icl_jobs), each under 60 s of one core,
# and the gather `icl`, which writes the tables, the checks and the figures.


rule icl_part:
    """One part job: its parts' models trained and evaluated; their tables."""
    output:
        **part_outputs("icl"),
    log:
        part_log("icl"),
    benchmark:
        part_benchmark("icl")
    wildcard_constraints:
        **part_constraints("icl"),
    priority: priority("icl", part=True)
    conda:
        conda_env("icl", part=True)
    threads: 1
    resources:
        **resources("icl", part=True),
    params:
        **part_params("icl"),
    script:
        "../scripts/icl_part.py"


rule icl:
    """Gather the parts: the preconditioner, risk, shift, training and sensitivity tables, the
    checks and the figures."""
    input:
        parts=part_inputs("icl"),
    output:
        **outputs("icl"),
    log:
        log_file("icl"),
    benchmark:
        benchmark_file("icl")
    priority: priority("icl")
    conda:
        conda_env("icl")
    threads: 1
    resources:
        **resources("icl"),
    params:
        cfg=stage_config("icl", "icl"),
    script:
        "../scripts/icl.py"
