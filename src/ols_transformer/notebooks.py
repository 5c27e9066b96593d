"""Run the stage notebooks on the Python that runs this process: no kernel to register.

The notebooks name the Jupyter kernel ``ols-transformer``. Rather than look it up among the
kernels installed somewhere (a venv, a conda env or a cluster node may have none, or one that
points at another Python), ``this_python_kernel`` writes, for the time of the block, a kernel
spec of that name whose command is this interpreter (``sys.executable -m ipykernel_launcher``),
in a temporary directory put first on ``JUPYTER_PATH``. ``pip install .`` alone is enough.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KERNEL = "ols-transformer"


@contextmanager
def this_python_kernel(name: str = KERNEL) -> Iterator[Path]:
    """Within the block, the Jupyter kernel ``name`` runs ``sys.executable``; yields the spec's
    directory. JUPYTER_PATH is restored afterwards."""
    previous = os.environ.get("JUPYTER_PATH")
    with tempfile.TemporaryDirectory(prefix="ols-kernel-") as root:
        spec = Path(root) / "kernels" / name
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python ({name})", "language": "python"}))
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [root, previous]))
        try:
            yield spec
        finally:
            if previous is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = previous
