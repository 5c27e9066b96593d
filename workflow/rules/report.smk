# The report's table pages: every table the report shows (a stage's captioned tables, the
# ledger, the cost table) rendered as HTML (src/ols_transformer/report.py), so that it shows in
# the page; Snakemake's report offers a CSV only as a download. One local job per version, into
# results/<version>/report/.

# Table name -> (its CSV, its caption, its category, its path in the version directory).
REPORT_TABLES = {
    output.name: dict(
        csv=f"{stage_dir(stage)}/{output.path}",
        caption=output.caption,
        category=registry.STAGES[stage].category,
        source=output.path,
    )
    for stage in SELECTED
    if stage in registry.STAGES
    for output in registry.STAGES[stage].outputs
    if output.caption and output.path.endswith(".csv")
}
REPORT_TABLES["cost"] = dict(
    csv=rules.cost.output.table, caption="cost", category=registry.COST, source="cost/cost.csv"
)


rule tables_html:
    """Each table of the report as an HTML page (every row, numbers to 6 digits)."""
    input:
        **{name: table["csv"] for name, table in REPORT_TABLES.items()},
    output:
        **{
            name: report(
                protected(f"{VERSION_DIR}/report/{name}.html"),
                caption=f"../report/{table['caption']}.rst",
                category=table["category"],
                labels=report_labels(f"{name}.html"),
            )
            for name, table in REPORT_TABLES.items()
        },
    log:
        f"{VERSION_DIR}/logs/tables_html.log",
    localrule: True
    conda:
        "../envs/compute.yaml"  # the package: pandas, and the registry's jsonschema and mpmath
    params:
        sources={name: table["source"] for name, table in REPORT_TABLES.items()},
    script:
        "../scripts/tables_html.py"
