"""The stage notebooks' helpers, and running them on the Python of this process.

Helpers (``show``, ``show_checks``, ``tabular``, ``stage_criteria``): what every stage notebook
uses, written once here instead of copied into each notebook. ``stage_criteria`` gives a
notebook run by hand (papermill or Jupyter, without the workflow's ``criteria`` parameter) its
stage's criteria from the config: the version directory's ``config.resolved.yaml`` (the
notebooks' default paths are relative to it), else the checkout's ``config/config.yaml``.

Kernel: no kernel to register.

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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

KERNEL = "ols-transformer"
# Where a notebook run by hand finds its config, from its working directory: the version
# directory's resolved config first, then the checkout's (searched upwards).
RESOLVED_CONFIG = "config.resolved.yaml"
CHECKOUT_CONFIG = Path("config") / "config.yaml"


def tabular() -> None:
    """The notebooks' pandas display options."""
    import pandas as pd

    pd.set_option("display.precision", 4)
    pd.set_option("display.width", 140)


# A figure wider than this (pixels) is shown scaled down to it, in a palette of 256 colours
# (line plots lose nothing to see; the PNG beside the notebook keeps every pixel): the HTML
# export of a stage with many figures (icl: 6, 1.8 MB of PNG at the rule's 150 dpi) then stays
# well under Chromium's 2 MB limit on a data URL, so that it opens in the Snakemake report.
SHOWN_WIDTH = 1200


def show(png: str | os.PathLike[str]) -> None:
    """A figure of the stage, as its rule saved it (the notebook does not redraw it), scaled
    down to ``SHOWN_WIDTH`` pixels in 256 colours where it is wider."""
    import io

    from IPython.display import Image, display
    from PIL import Image as Picture

    with Picture.open(png) as picture:
        if picture.width <= SHOWN_WIDTH:
            display(Image(filename=str(png)))
            return
        height = round(picture.height * SHOWN_WIDTH / picture.width)
        shown = picture.convert("RGB").resize((SHOWN_WIDTH, height),
                                              Picture.Resampling.LANCZOS)
    buffer = io.BytesIO()
    # the fast octree palette: 1 s of CPU for the default run's 15 wide figures, against 3 s
    # for median cut with optimize (and smaller files)
    shown.quantize(colors=256, method=Picture.Quantize.FASTOCTREE).save(buffer, format="PNG")
    display(Image(data=buffer.getvalue()))


def show_checks(checks: Iterable[Any]) -> None:
    """The stage's checks (``checks.Check`` rows, from the functions its summary and the
    claims ledger call, or the summary table the stage wrote from them): the table without
    details, then one line per check."""
    import pandas as pd
    from IPython.display import display

    from .checks import frame

    if isinstance(checks, pd.DataFrame):  # read back from CSV, where an empty text is NaN
        table = checks.fillna({name: "" for name in checks.columns
                               if not pd.api.types.is_numeric_dtype(checks[name])})
    else:
        table = frame(checks)
    display(table.drop(columns=["detail"]))
    for row in table.itertuples():
        print(f"{row.check} [{row.scope}]: {row.value:.6g} -> {row.verdict}"
              + (f" (holds where: {row.holds_where})" if row.holds_where else ""))


def find_config(start: str | os.PathLike[str] | None = None) -> Path:
    """The config a notebook run by hand reads: ``config.resolved.yaml`` in ``start`` (the
    working directory: a version directory), else ``config/config.yaml`` in ``start`` or a
    directory above it (a checkout). FileNotFoundError naming both when neither is found."""
    here = Path(start or Path.cwd()).resolve()
    if (here / RESOLVED_CONFIG).is_file():
        return here / RESOLVED_CONFIG
    for directory in (here, *here.parents):
        if (directory / CHECKOUT_CONFIG).is_file():
            return directory / CHECKOUT_CONFIG
    raise FileNotFoundError(
        f"no {RESOLVED_CONFIG} in {here} and no {CHECKOUT_CONFIG} in it or above: run the "
        "notebook from a version directory (results/<version>/) or the checkout, or pass the "
        "'criteria' parameter (papermill -p criteria ...)")


def stage_criteria(section: str, criteria: Mapping[str, float] | None = None,
                   config: str | os.PathLike[str] | None = None) -> dict[str, float]:
    """``criteria`` if given (the workflow sets it), else ``<section>.criteria`` of ``config``
    (default: ``find_config()``). KeyError naming the file when the section has none."""
    if criteria:
        return dict(criteria)
    import yaml

    path = Path(config) if config is not None else find_config()
    loaded = yaml.safe_load(path.read_text()) or {}
    try:
        return dict(loaded[section]["criteria"])
    except (KeyError, TypeError) as missing:
        raise KeyError(f"{path} has no '{section}.criteria': give the notebook its 'criteria' "
                       "parameter, or a config with that section") from missing


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
