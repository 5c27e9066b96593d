rule proof:
    """Every step of the OLS-Transformer proof, measured against a high-precision OLS."""
    input:
        regression=rules.data.output.regression,
    output:
        **outputs("proof"),
    log:
        log_file("proof"),
    benchmark:
        benchmark_file("proof")
    priority: priority("proof")
    conda:
        conda_env("proof")
    threads: 1
    resources:
        **resources("proof"),
    params:
        cfg=stage_config("proof", "proof"),
    script:
        "../scripts/proof.py"
