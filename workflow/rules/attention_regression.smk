# The second paper of our sources (Goulet Coulombe, "Ordinary Least Squares as an Attention
# Mechanism"): the OLS-as-attention identity on held-out queries, the optimisation view, the
# kernel identity, and Attention Regression against its Monte Carlo (OLS, RF, GBM, MLP,
# Nadaraya-Watson). One attention_regression_part job per part (the algebra, and one per
# (design, N, SNR) condition: config.attention_regression_parts), or per run of small parts
# (config.attention_regression_jobs), and the gather `attention_regression`, which writes the
# tables, the checks and the figures.


rule attention_regression_part:
    """One part job: the algebra's tables, or one condition's replicates of every model, or
    several of these."""
    output:
        **part_outputs("attention_regression"),
    log:
        part_log("attention_regression"),
    benchmark:
        part_benchmark("attention_regression")
    wildcard_constraints:
        **part_constraints("attention_regression"),
    priority: priority("attention_regression", part=True)
    conda:
        conda_env("attention_regression", part=True)
    threads: 1
    resources:
        **resources("attention_regression", part=True),
    params:
        **part_params("attention_regression"),
    script:
        "../scripts/attention_regression_part.py"


rule attention_regression:
    """Gather the parts: the per-replicate R^2, the comparison with the paper's table, the
    algebra's tables, the checks and the figures."""
    input:
        parts=part_inputs("attention_regression"),
    output:
        **outputs("attention_regression"),
    log:
        log_file("attention_regression"),
    benchmark:
        benchmark_file("attention_regression")
    priority: priority("attention_regression")
    conda:
        conda_env("attention_regression")
    threads: 1
    resources:
        **resources("attention_regression"),
    params:
        cfg=stage_config("attention_regression", "attention_regression"),
    script:
        "../scripts/attention_regression.py"
