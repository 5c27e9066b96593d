#!/usr/bin/env bash
# Regenerate the committed reference run, docs/reference/ and the README's ledger table, from a
# run of the default config (about 4 min on 2 cores; stages whose inputs did not change are
# reused from results/stages/):  bash scripts/reference.sh    then review git diff and commit.
set -euo pipefail
cd "$(dirname "$0")/.."
cores=${CORES:-2}
snakemake --cores "$cores"
version=$(python -c "import yaml; from ols_transformer.versioning import version_id; \
print(version_id(yaml.safe_load(open('config/config.yaml')), '.'))")
ols-transformer reference "results/$version" --command-used "snakemake --cores $cores"
ols-transformer compare docs/reference "results/$version" --check | tail -1
