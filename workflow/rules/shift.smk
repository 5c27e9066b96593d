# Covariance shift (paper Section 3): slow memory W W^T = Sigma_tr^{-1} against fast memory
# (attention scores from the context). One job per shift family, then one aggregate job.

SHIFT_FAMILIES = list(config["shift"]["families"])
SHIFT_CATEGORY = "3. Covariance shift (Section 3)"


rule shift_family:
    """Static OLS, the OLS-Transformer in context, eq. 10 and the oracle for one family."""
    output:
        table=out("tables/shift/{family}.csv"),
        provenance=prov("shift_{family}"),
    log:
        log_file("shift_{family}"),
    params:
        cfg=config["shift"],
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(2000),
    wildcard_constraints:
        family="|".join(SHIFT_FAMILIES),
    conda:
        CONDA_ENV
    script:
        "../scripts/shift_family.py"


rule shift_aggregate:
    """covariance_shift.csv, its headline checks, and the error and distortion figures."""
    input:
        # Plain paths: out() adds protected(), a flag expand() and inputs do not take.
        tables=expand(f"{VERSION_DIR}/tables/shift/{{family}}.csv", family=SHIFT_FAMILIES),
    output:
        table=report(out("tables/covariance_shift.csv"),
                     caption="../report/shift_table.rst", category=SHIFT_CATEGORY),
        summary=report(out("tables/covariance_shift_summary.csv"),
                       caption="../report/shift_summary.rst", category=SHIFT_CATEGORY),
        error_pdf=out("figures/shift_error.pdf"),
        error_png=report(out("figures/shift_error.png"),
                         caption="../report/shift_error.rst", category=SHIFT_CATEGORY),
        distortion_pdf=out("figures/shift_distortion.pdf"),
        distortion_png=report(out("figures/shift_distortion.png"),
                              caption="../report/shift_distortion.rst", category=SHIFT_CATEGORY),
        provenance=prov("shift_aggregate"),
    log:
        log_file("shift_aggregate"),
    params:
        cfg=config["shift"],
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(2000),
    conda:
        CONDA_ENV
    script:
        "../scripts/shift_aggregate.py"


ALL_TARGETS.append(rules.shift_aggregate.output.summary)
