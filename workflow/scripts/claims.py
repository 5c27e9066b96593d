"""The claims ledger: read the stage tables this workflow has, judge every claim, write it."""

import logging

from ols_transformer import claims
from ols_transformer.io import read_table, write_table, write_text
from ols_transformer.plots.claims import plot_claims_overview
from ols_transformer.plots.common import save_figure
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "claims") as run:
    tables = {name: read_table(path) for name, path in smk.input.items()}
    ledger = claims.build_ledger(tables, claims.criteria_from_config(run.cfg))
    write_table(ledger, smk.output.ledger)
    write_text(claims.to_markdown(ledger),
               smk.output.markdown)
    save_figure(plot_claims_overview(ledger), smk.output.figure_pdf, smk.output.figure_png)
    log = logging.getLogger("ols_transformer")
    log.info("%s", claims.counts(ledger))
    for row in ledger.itertuples(index=False):
        # a failing claim is reported, not an error: the ledger is the result
        level = logging.WARNING if row.verdict in (claims.FAIL, claims.MISSING) else logging.INFO
        log.log(level, "%s %s: measured %s (%s)", row.verdict, row.claim_id, row.estimate,
                row.criterion)
