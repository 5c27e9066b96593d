#!/usr/bin/env bash
# Regenerate the locks from pyproject.toml: exact versions, with the hash of every file, for
# Python 3.11 on Linux x86_64 (this project's machines; torch is the CPU build, 2.13.0+cpu):
#   requirements.lock      the runtime dependencies
#   requirements-dev.lock  the same, plus the test and lint tools (pytest, ruff, snakefmt)
# scripts/setup.sh installs from requirements-dev.lock; environment.yml pins the same versions
# (tests/test_environment.py checks both against pyproject.toml).
# Usage: bash scripts/lock.sh      (about 6 minutes; needs the package registry)
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet --disable-pip-version-check pip-tools==7.6.2
common=(--quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url
        --no-emit-find-links)
"$tools/bin/pip-compile" "${common[@]}" --output-file requirements.lock pyproject.toml
"$tools/bin/pip-compile" "${common[@]}" --extra test --constraint requirements.lock \
    --output-file requirements-dev.lock pyproject.toml
echo "wrote requirements.lock and requirements-dev.lock"
