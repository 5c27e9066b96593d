rule training:
    """Figure 1: Adam trains the one-parameter OLS-Transformer to w* = Sigma^(-1/2); the first
    aligned epoch per tolerance; the endpoint perturbed and trained on."""
    input:
        training=rules.data.output.training,
    output:
        table=out("training", "tables/fig1_training.csv"),
        headline=report(
            out("training", "tables/fig1_headline.csv"),
            caption="../report/fig1_headline.rst",
            category="2. Training (Figure 1)",
            labels=labels("training", "table", "fig1_headline"),
        ),
        alignment=out("training", "tables/fig1_alignment.csv"),
        endpoint=report(
            out("training", "tables/fig1_endpoint.csv"),
            caption="../report/fig1_endpoint.rst",
            category="2. Training (Figure 1)",
            labels=labels("training", "table", "fig1_endpoint"),
        ),
        fig1a_pdf=out("training", "figures/fig1a_convergence.pdf"),
        fig1a_png=report(
            out("training", "figures/fig1a_convergence.png"),
            caption="../report/fig1a.rst",
            category="2. Training (Figure 1)",
            labels=labels("training", "figure", "fig1a_convergence"),
        ),
        fig1b_pdf=out("training", "figures/fig1b_w_vs_wstar.pdf"),
        fig1b_png=report(
            out("training", "figures/fig1b_w_vs_wstar.png"),
            caption="../report/fig1b.rst",
            category="2. Training (Figure 1)",
            labels=labels("training", "figure", "fig1b_w_vs_wstar"),
        ),
        provenance=prov("training"),
    log:
        log_file("training"),
    benchmark:
        benchmark_file("training")
    priority: PRIORITY["training"]
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(2000),
    params:
        cfg=stage_config("training", "training"),
    script:
        "../scripts/training.py"


rule training_sweep:
    """Sensitivity of Figure 1: the aligned epoch over parameterisation x learning rate x w0 x
    input scale x n x seed, every point trained at once; the table, its heat maps and the
    alignment region in (lr/w*, w0/w*)."""
    output:
        table=report(
            out("training_sweep", "tables/fig1_sensitivity.csv"),
            caption="../report/fig1_sensitivity_table.rst",
            category="2. Training (Figure 1)",
            labels=labels("training", "table", "fig1_sensitivity"),
        ),
        figure_pdf=out("training_sweep", "figures/fig1_sensitivity.pdf"),
        figure_png=report(
            out("training_sweep", "figures/fig1_sensitivity.png"),
            caption="../report/fig1_sensitivity.rst",
            category="2. Training (Figure 1)",
            labels=labels("training", "figure", "fig1_sensitivity"),
        ),
        region_pdf=out("training_sweep", "figures/fig1_alignment_region.pdf"),
        region_png=report(
            out("training_sweep", "figures/fig1_alignment_region.png"),
            caption="../report/fig1_alignment_region.rst",
            category="2. Training (Figure 1)",
            labels=labels("training", "figure", "fig1_alignment_region"),
        ),
        provenance=prov("training_sweep"),
    log:
        log_file("training_sweep"),
    benchmark:
        benchmark_file("training_sweep")
    priority: PRIORITY["training"]
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(30),
        mem_mb=by_attempt(4000),
    params:
        cfg=stage_config("training_sweep", "training"),
    script:
        "../scripts/training_sweep.py"
