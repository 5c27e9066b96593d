# Figure 1 (paper Sec. 2.3): the one-parameter OLS-Transformer trained by Adam, and the
# sensitivity grid of the same training (the training section's second job).


rule training:
    """Figure 1: Adam trains the one-parameter OLS-Transformer to w* = Sigma^(-1/2); the first
    aligned epoch per tolerance; the endpoint perturbed and trained on."""
    input:
        training=rules.data.output.training,
    output:
        **outputs("training"),
    log:
        log_file("training"),
    benchmark:
        benchmark_file("training")
    priority: priority("training")
    conda:
        conda_env("training")
    threads: 1
    resources:
        **resources("training"),
    params:
        cfg=stage_config("training", "training"),
    script:
        "../scripts/training.py"


rule training_sweep:
    """Sensitivity of Figure 1: the aligned epoch over parameterisation x learning rate x w0 x
    input scale x n x seed, every point trained at once; the table, its heat maps and the
    alignment region in (lr/w*, w0/w*)."""
    output:
        **outputs("training_sweep"),
    log:
        log_file("training_sweep"),
    benchmark:
        benchmark_file("training_sweep")
    priority: priority("training_sweep")
    conda:
        conda_env("training_sweep")
    threads: 1
    resources:
        **resources("training_sweep"),
    params:
        cfg=stage_config("training_sweep", "training"),
    script:
        "../scripts/training_sweep.py"
