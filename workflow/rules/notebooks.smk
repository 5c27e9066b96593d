# One papermill notebook per stage (notebooks/<stage>.ipynb), executed against this version's
# tables and kept, with its HTML, under notebooks/. The notebooks read tables and plot; they
# recompute no experiment. Include after the stage rules and claims.smk: a stage notebook is
# built only when this workflow writes all of that stage's tables.

NOTEBOOK_KERNEL = "ols-transformer"  # run on the job's own Python (ols_transformer.notebooks)
NOTEBOOK_TABLES = {
    "proof": ["proof_check"],
    "training": ["fig1_headline", "fig1_sensitivity"],
    "shift": ["covariance_shift"],
    "hopfield": ["hopfield_capacity"],
}
# The notebooks show the stage's figures as its rule saved them (no second drawing).
NOTEBOOK_FIGURES = {
    "proof": ["proof_error_vs_condition"],
    "training": ["fig1a_convergence", "fig1b_w_vs_wstar", "fig1_sensitivity"],
    "shift": ["shift_error", "shift_distortion"],
    "hopfield": ["hopfield_capacity"],
}
WORKFLOW_OUTPUTS = [str(path) for rule_ in workflow.rules for path in rule_.output]
# A stage notebook reads its tables, its figures and the version's resolved config (for its
# criteria).
NOTEBOOK_INPUTS = {
    stage: {
        **tables,
        **{f"{name}_png": f"{VERSION_DIR}/figures/{name}.png" for name in NOTEBOOK_FIGURES[stage]},
        "config": rules.run_record.output.config,
    }
    for stage, names in NOTEBOOK_TABLES.items()
    if len(tables := tables_among(WORKFLOW_OUTPUTS, f"{VERSION_DIR}/tables", names)) == len(names)
}
NOTEBOOK_INPUTS["claims"] = {"claims": rules.claims.output.ledger}


rule notebook:
    """Execute a stage's notebook with papermill against this version's tables; export HTML."""
    input:
        unpack(lambda wildcards: NOTEBOOK_INPUTS[wildcards.stage]),
        notebook=os.path.join(workflow.basedir, "notebooks", "{stage}.ipynb"),
    output:
        notebook=out("notebooks/{stage}.ipynb"),
        html=report(
            out("notebooks/{stage}.html"),
            caption="../report/notebook.rst",
            category="5. Notebooks",
            subcategory="{stage}",
        ),
        provenance=prov("notebook_{stage}"),
    log:
        log_file("notebook_{stage}"),
    wildcard_constraints:
        stage="|".join(NOTEBOOK_INPUTS),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        runtime=by_attempt(10),
        mem_mb=by_attempt(2000),
    params:
        kernel=NOTEBOOK_KERNEL,
        # papermill parameters: <table>_csv, <figure>_png and config_yaml (the resolved
        # config), paths relative to the working directory
        parameters=lambda wildcards, input: {
            (
                "config_yaml"
                if name == "config"
                else name if name.endswith("_png") else f"{name}_csv"
            ): path
            for name, path in input.items()
            if name != "notebook"
        },
    script:
        "../scripts/notebook.py"


ALL_TARGETS.extend(
    expand(
        [rules.notebook.output.notebook, rules.notebook.output.html],
        stage=list(NOTEBOOK_INPUTS),
    )
)
