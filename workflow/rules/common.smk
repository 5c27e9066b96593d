# Shared by every rule: the package, config validation, the result version, and path helpers.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

try:
    import ols_transformer
except ImportError as error:
    raise WorkflowError(
        f"the ols_transformer package is not installed for {sys.executable}: run "
        "`bash scripts/setup.sh`, or `pip install .` in this checkout"
    ) from error

from ols_transformer.config import validate_config
from ols_transformer.versioning import package_dir, package_mismatch, update_index, version_id

# The workflow runs the package it imports (editable or not); a stale install would silently
# run other code than this checkout's src/, so that is refused.
STALE = package_mismatch(workflow.basedir)
if STALE:
    raise WorkflowError(
        f"the ols_transformer imported from {package_dir()} differs from this checkout's src/ "
        f"({len(STALE)} files, e.g. {', '.join(STALE[:3])}): reinstall it from the checkout with "
        "`pip install .` (or `pip install -e .`)"
    )
# Job processes import it too: where it is this checkout's src/ (editable), say so on their
# PYTHONPATH, so that jobs in another environment (conda, a cluster node) find the same code.
if package_dir().parent == (Path(workflow.basedir) / "src").resolve():
    os.environ.update(
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(package_dir().parent), os.environ.get("PYTHONPATH")])
        )
    )

# Fails here, before any job is scheduled, with a message naming each bad field.
validate_config(config)

VERSION = version_id(config, workflow.basedir)
# A cluster job re-reads this workflow on its node: if the code or config changed after the
# run was submitted, its version would differ and the job would write into another version.
# The submitting process pins its version in the environment the jobs inherit; a job that
# computes another one stops with the reason.
if workflow.is_main_process:
    os.environ.update(OLS_TRANSFORMER_VERSION=VERSION)
elif os.environ.get("OLS_TRANSFORMER_VERSION", VERSION) != VERSION:
    raise WorkflowError(
        f"this job computes result version {VERSION}, but the run was submitted as "
        f"{os.environ.get('OLS_TRANSFORMER_VERSION')}: the code or config changed while the run "
        "was in flight. Restore them, or let the run finish and start a new one."
    )
RESULTS = "results"
VERSION_DIR = f"{RESULTS}/{VERSION}"
ALL_TARGETS = []
CONDA_ENV = "../../environment.yml"  # used with --software-deployment-method conda


def out(path):
    """Path of an output inside this run's version directory (wildcards left as they are).

    Outputs are write-protected once their job succeeds: Snakemake then refuses to overwrite a
    finished version (even under --forcerun) instead of silently replacing it.
    """
    return protected(f"{VERSION_DIR}/{path}")


def by_attempt(base):
    """A resource request that grows with each retry (the SLURM profile retries a failed job
    twice), so a job killed for its memory or time limit asks for more the next time."""
    return lambda wildcards, attempt: base * attempt


def log_file(name):
    return f"{VERSION_DIR}/logs/{name}.log"


def prov(name):
    return f"{VERSION_DIR}/provenance/{name}.json"


onstart:
    print(f"results version: {VERSION_DIR}", file=sys.stderr)


onsuccess:
    update_index(RESULTS)


onerror:
    update_index(RESULTS)
