# Covariance shift (paper Section 3): slow memory W W^T = Sigma_tr^{-1} against fast memory
# (attention scores from the context). One job: every family, then the checks and figures.


rule shift:
    """Static OLS, the OLS-Transformer in context, eq. 10 and the oracle for every shift family;
    the stage's checks and the error and distortion figures."""
    output:
        **outputs("shift"),
    log:
        log_file("shift"),
    benchmark:
        benchmark_file("shift")
    priority: priority("shift")
    conda:
        conda_env("shift")
    threads: 1
    resources:
        **resources("shift"),
    params:
        cfg=stage_config("shift", "shift"),
    script:
        "../scripts/shift.py"
