"""Write each table of the report as an HTML page (rule tables_html)."""

from ols_transformer.io import read_table, write_text
from ols_transformer.report import table_html

smk = snakemake  # noqa: F821  (injected by Snakemake)
with open(smk.log[0], "w") as log:
    for name, source in smk.params.sources.items():
        table = read_table(smk.input[name])
        write_text(table_html(table, name, source), smk.output[name])
        print(f"{smk.output[name]}: {len(table)} rows", file=log)
