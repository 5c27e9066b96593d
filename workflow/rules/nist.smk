rule nist:
    """The OLS-Transformer against NIST's certified regressions (StRD): digits per route."""
    output:
        **outputs("nist"),
    log:
        log_file("nist"),
    benchmark:
        benchmark_file("nist")
    priority: priority("nist")
    conda:
        conda_env("nist")
    threads: 1
    resources:
        **resources("nist"),
    params:
        cfg=stage_config("nist", "nist"),
    script:
        "../scripts/nist.py"
