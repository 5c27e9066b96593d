#!/usr/bin/env bash
# Install everything the pipeline and its tests need into ./.venv (idempotent, ~2 min fresh).
# Usage: bash scripts/setup.sh        then:  . .venv/bin/activate
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# Papermill runs the notebooks on this kernel; --sys-prefix keeps it inside the venv.
.venv/bin/python -m ipykernel install --sys-prefix --name ols-transformer \
    --display-name "Python (ols-transformer)" >/dev/null
echo "setup done: activate with '. .venv/bin/activate'"
