# Covariance shift (paper Section 3): slow memory W W^T = Sigma_tr^{-1} against fast memory
# (attention scores from the context). One job: every family, then the checks and figures.

SHIFT_CATEGORY = "3. Covariance shift (Section 3)"


rule shift:
    """Static OLS, the OLS-Transformer in context, eq. 10 and the oracle for every shift family;
    the stage's checks and the error and distortion figures."""
    output:
        table=report(
            out("shift", "tables/covariance_shift.csv"),
            caption="../report/shift_table.rst",
            category=SHIFT_CATEGORY,
            labels=labels("shift", "table", "covariance_shift"),
        ),
        summary=report(
            out("shift", "tables/covariance_shift_summary.csv"),
            caption="../report/shift_summary.rst",
            category=SHIFT_CATEGORY,
            labels=labels("shift", "table", "covariance_shift_summary"),
        ),
        error_pdf=out("shift", "figures/shift_error.pdf"),
        error_png=report(
            out("shift", "figures/shift_error.png"),
            caption="../report/shift_error.rst",
            category=SHIFT_CATEGORY,
            labels=labels("shift", "figure", "shift_error"),
        ),
        distortion_pdf=out("shift", "figures/shift_distortion.pdf"),
        distortion_png=report(
            out("shift", "figures/shift_distortion.png"),
            caption="../report/shift_distortion.rst",
            category=SHIFT_CATEGORY,
            labels=labels("shift", "figure", "shift_distortion"),
        ),
        provenance=prov("shift"),
    log:
        log_file("shift"),
    benchmark:
        benchmark_file("shift")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(2000),
    params:
        cfg=stage_config("shift", "shift"),
    script:
        "../scripts/shift.py"
