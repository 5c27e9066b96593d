#!/usr/bin/env bash
# Install the pipeline and its tests into ./.venv from the lock (idempotent, ~2 min fresh):
# exact versions with their hashes (requirements-dev.lock, from pyproject.toml by
# scripts/lock.sh), then this checkout as an editable package without further dependencies.
# The lock is for Python 3.11 on Linux x86_64, with the CPU build of torch; elsewhere, or for
# the newest releases in pyproject.toml's ranges: pip install -e '.[test]'.
# Usage: bash scripts/setup.sh        then:  . .venv/bin/activate
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch's CPU build (2.13.0+cpu) lies on this project's machines; elsewhere it comes from the
# PyTorch CPU index, which is asked only if the first attempt does not find it.
"${pip[@]}" --require-hashes -r requirements-dev.lock \
    || "${pip[@]}" --require-hashes -r requirements-dev.lock \
        --extra-index-url https://download.pytorch.org/whl/cpu
"${pip[@]}" --no-deps --no-build-isolation -e .
echo "setup done: activate with '. .venv/bin/activate'"
