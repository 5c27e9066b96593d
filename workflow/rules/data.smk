rule data:
    """Synthetic regression data: the proof-check cases and the Figure 1 training sets."""
    output:
        **outputs("data"),
    log:
        log_file("data"),
    benchmark:
        benchmark_file("data")
    priority: priority("data")
    conda:
        conda_env("data")
    threads: 1
    resources:
        **resources("data"),
    params:
        cfg=stage_config("data"),
    script:
        "../scripts/data.py"
