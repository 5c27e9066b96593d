"""The context every workflow script runs in: logging, determinism, provenance.

A script under ``workflow/scripts`` does::

    with StageRun(snakemake, "proof") as run:
        table = experiments.proof.run(run.cfg, ...)
        write_table(table, snakemake.output.table)

On success the rule's ``provenance`` output is written last, with the SHA-256 of every other
output; on failure nothing is written under the provenance name, so Snakemake re-runs the job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from . import provenance
from .io import write_json
from .versioning import VERSION_ENV, code_fingerprint, git_state, version_id

log = logging.getLogger("ols_transformer")


def workflow_root(smk: Any) -> Path:
    """The checkout the running workflow comes from (scripts live in <root>/workflow/scripts)."""
    return Path(smk.scriptdir).resolve().parents[1]


def configure_determinism(threads: int = 1) -> None:
    """Fixed threads and deterministic torch kernels: identical tables run after run.

    The one place that sets process-wide state (no module does at import). Only where the
    stage's script has imported torch (its experiment modules do): importing torch costs
    seconds, wasted on stages that only read tables.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return
    # Deterministic cuBLAS needs this workspace setting, read when the first cuBLAS handle is
    # made (no effect on the CPU).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(max(1, int(threads)))
    # torch.use_deterministic_algorithms(True) sets this same flag, and also the compiler's,
    # importing torch._inductor and torch._dynamo for it: ~1 s of every job's start-up, for a
    # compiler no stage uses (nothing calls torch.compile). So the eager flag alone, where
    # this torch has it.
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:
        torch.use_deterministic_algorithms(True)
    else:
        set_flag(True, warn_only=False)


def files_in(paths: Any) -> list[str]:
    """The files of ``paths``, a folder (a part job's output) replaced by the files in it."""
    found: list[str] = []
    for path in map(Path, paths):
        found.extend(sorted(str(p) for p in path.rglob("*") if p.is_file())
                     if path.is_dir() else [str(path)])
    return found


def handed_config(smk: Any, stage: str) -> tuple[dict[str, Any], bool]:
    """(the config a job reads, whether its rule handed it): the rule's ``params.cfg`` (the
    config parts the stage's key covers, common.smk's ``stage_config``) when it has one, else
    the config section named like the stage (rules not yet handing a slice)."""
    params = getattr(smk, "params", None)
    handed = getattr(params, "cfg", None) if params is not None else None
    if handed is not None:
        return dict(handed), True
    return dict(smk.config.get(stage, {})), False


class StageRun:
    """The context of one job (see the module docstring). ``cfg``: the config the job reads:
    its rule's ``params.cfg`` where the rule hands one (so a job reads nothing its stage key
    does not cover), else ``config[stage]``."""

    def __init__(self, smk: Any, stage: str) -> None:
        self.smk = smk
        self.stage = stage
        self.cfg, self.handed = handed_config(smk, stage)
        # The whole config, only for the provenance of jobs whose rule hands no slice.
        self.config: dict[str, Any] = self.cfg if self.handed else dict(smk.config)
        self._stack = contextlib.ExitStack()
        self._start = 0.0
        self.version = ""

    @property
    def stage_dir(self) -> Path:
        """results/stages/<stage>/<key>/: where this job writes (reuse.py)."""
        return Path(self.smk.output.provenance).parent.parent

    def __enter__(self) -> StageRun:
        log_path = Path(self.smk.log[0])
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._stack.enter_context(open(log_path, "w", buffering=1))
        self._stack.enter_context(contextlib.redirect_stdout(handle))
        self._stack.enter_context(contextlib.redirect_stderr(handle))
        logging.basicConfig(
            stream=handle, level=logging.INFO, force=True,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        configure_determinism(getattr(self.smk, "threads", 1))
        self.version = self._started_version()
        self._start = time.perf_counter()
        log.info("stage %s rule %s wildcards %s", self.stage, self.smk.rule,
                 dict(self.smk.wildcards.items()))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self._write_provenance()
                log.info("stage %s done in %.2f s", self.stage, time.perf_counter() - self._start)
            else:
                log.error("stage %s failed: %s: %s", self.stage, exc_type.__name__, exc)
        finally:
            logging.shutdown()
            self._stack.close()
        if exc is not None:
            # Also to the real stderr, so the Snakemake console shows why the job failed.
            print(f"[{self.stage}] {exc_type.__name__ if exc_type else ''}: {exc}", file=sys.stderr)

    def _started_version(self) -> str:
        """The version this job computes for: the run's config (Snakemake hands every job the
        run's) and this checkout's code, as the workflow names its version; refused where no run
        created it (results/<version>/, made before any job starts): the code or config
        changed after the run started, so the job would belong to a version nobody started."""
        version = version_id(self.smk.config, workflow_root(self.smk))
        # The run writes <id>-1, ... where <id> exists and may not be rewritten
        # (versioning.choose_version); its submitting process says which.
        chosen = os.environ.get(VERSION_ENV, "")
        if re.fullmatch(rf"{re.escape(version)}(-[0-9]+)?", chosen):
            version = chosen
        if not (Path("results") / version).is_dir():
            raise RuntimeError(
                f"this job computes result version {version}, which no run started: the code "
                "or config changed while the run was in flight. Restore them, or let the run "
                "finish and start a new one.")
        return version

    def _write_provenance(self) -> None:
        outputs = [p for key, p in self.smk.output.items() if key != "provenance"]
        root = workflow_root(self.smk)
        record = provenance.record(
            stage=self.stage,
            config=self.config,
            version=self.version,
            code_sha256=code_fingerprint(root),
            git=git_state(root),
            inputs=files_in(self.smk.input),
            outputs=files_in(outputs),
            extra={
                "stage_dir": str(self.stage_dir),
                "stage_key": self.stage_dir.name,
                "rule": self.smk.rule,
                "wildcards": dict(self.smk.wildcards.items()),
                "stage_config": self.cfg,
                "seed": self.cfg.get("seed", self.cfg.get("seeds")),
                "threads": getattr(self.smk, "threads", 1),
                "host": os.uname().nodename,
                "seconds": round(time.perf_counter() - self._start, 3),
            },
        )
        write_json(record, self.smk.output.provenance)
