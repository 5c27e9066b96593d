# Hopfield capacity (paper Section 4): the largest number of stored patterns each associative
# memory retrieves from corrupted cues, against N. One job per model, then one aggregate job.

HOPFIELD_MODELS = list(config["hopfield"]["models"])
HOPFIELD_CATEGORY = "4. Hopfield capacity (Section 4)"


rule hopfield_model:
    """Capacity of one model at every N of its grid and every seed (doubling + bisection on M)."""
    output:
        table=out("tables/hopfield/{model}.csv"),
        provenance=prov("hopfield_{model}"),
    log:
        log_file("hopfield_{model}"),
    params:
        cfg=config["hopfield"],
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(2000),
    wildcard_constraints:
        model="|".join(HOPFIELD_MODELS),
    conda:
        CONDA_ENV
    script:
        "../scripts/hopfield_model.py"


rule hopfield_aggregate:
    """hopfield_capacity.csv (per seed, with the t-interval), the growth fits and the figure."""
    input:
        # Plain paths: out() adds protected(), a flag expand() and inputs do not take.
        tables=expand(f"{VERSION_DIR}/tables/hopfield/{{model}}.csv", model=HOPFIELD_MODELS),
    output:
        table=report(out("tables/hopfield_capacity.csv"),
                     caption="../report/hopfield_capacity.rst", category=HOPFIELD_CATEGORY),
        growth=report(out("tables/hopfield_growth.csv"),
                      caption="../report/hopfield_growth.rst", category=HOPFIELD_CATEGORY),
        figure_pdf=out("figures/hopfield_capacity.pdf"),
        figure_png=report(out("figures/hopfield_capacity.png"),
                          caption="../report/hopfield_figure.rst", category=HOPFIELD_CATEGORY),
        provenance=prov("hopfield_aggregate"),
    log:
        log_file("hopfield_aggregate"),
    params:
        cfg=config["hopfield"],
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(2000),
    conda:
        CONDA_ENV
    script:
        "../scripts/hopfield_aggregate.py"


ALL_TARGETS.append(rules.hopfield_aggregate.output.growth)
ALL_TARGETS.append(rules.hopfield_aggregate.output.figure_png)
