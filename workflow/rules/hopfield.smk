# Hopfield capacity (paper Section 4): the largest number of stored patterns each associative
# memory retrieves from corrupted cues, against N. One job: every model, then the growth fits,
# the checks and the figure.

HOPFIELD_CATEGORY = "4. Hopfield capacity (Section 4)"


rule hopfield:
    """Capacity of every run (model, N grid, criterion) at every seed (doubling + bisection on
    M); the mean and t-interval over seeds, the growth fits, Amit's criterion, softmax's
    temperatures, the checks and the capacity figure."""
    output:
        table=report(
            out("hopfield", "tables/hopfield_capacity.csv"),
            caption="../report/hopfield_capacity.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "table", "hopfield_capacity"),
        ),
        growth=report(
            out("hopfield", "tables/hopfield_growth.csv"),
            caption="../report/hopfield_growth.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "table", "hopfield_growth"),
        ),
        amit=report(
            out("hopfield", "tables/hopfield_amit.csv"),
            caption="../report/hopfield_amit.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "table", "hopfield_amit"),
        ),
        softmax=report(
            out("hopfield", "tables/hopfield_softmax.csv"),
            caption="../report/hopfield_softmax.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "table", "hopfield_softmax"),
        ),
        summary=out("hopfield", "tables/hopfield_summary.csv"),
        figure_pdf=out("hopfield", "figures/hopfield_capacity.pdf"),
        figure_png=report(
            out("hopfield", "figures/hopfield_capacity.png"),
            caption="../report/hopfield_figure.rst",
            category=HOPFIELD_CATEGORY,
            labels=labels("hopfield", "figure", "hopfield_capacity"),
        ),
        provenance=prov("hopfield"),
    log:
        log_file("hopfield"),
    benchmark:
        benchmark_file("hopfield")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(60),
        mem_mb=by_attempt(4000),
    params:
        cfg=config["hopfield"],
    script:
        "../scripts/hopfield.py"
