"""Execute one stage notebook with papermill and export it to HTML.

The notebook's kernel runs this job's own Python (``notebooks.this_python_kernel``): nothing to
register, in a venv, a conda env or on a cluster node. The HTML is self-contained: figures are
embedded as base64 PNG and the template loads no script from the network (no require.js,
MathJax or Mermaid from a CDN).
"""

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

import jinja2
import nbformat
import papermill
from nbconvert import HTMLExporter

from ols_transformer.io import atomic_path, write_text
from ols_transformer.notebooks import this_python_kernel
from ols_transformer.stage import StageRun, workflow_root

# The lab template without the blocks that load scripts from a CDN.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


@contextlib.contextmanager
def fd2_to_log() -> Iterator[None]:
    """Point file descriptor 2 at the job's log (StageRun's sys.stderr), so the kernel
    process's own messages land in the log, not on the console; restore it afterwards."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(sys.stderr.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def to_html(notebook: nbformat.NotebookNode) -> str:
    exporter = HTMLExporter(
        template_name="lab", template_file="offline.html.j2", embed_images=True,
        extra_loaders=[jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body


KERNEL_STARTS = 3


def port_clash(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a kernel that could not bind its port."""
    while error is not None:
        if "Address already in use" in str(error) or "Kernel died before replying" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "notebooks") as run:
    log = logging.getLogger("ols_transformer")
    parameters = dict(smk.params.parameters)
    notebook = str(workflow_root(smk) / smk.params.notebook)
    log.info("notebook %s, kernel %s on %s, parameters %s", notebook,
             smk.params.kernel, sys.executable, parameters)
    with this_python_kernel(smk.params.kernel), fd2_to_log():
        for attempt in range(1, KERNEL_STARTS + 1):
            try:
                executed = papermill.execute_notebook(
                    notebook, None, parameters=parameters,
                    kernel_name=smk.params.kernel, cwd=os.getcwd(), progress_bar=False,
                    log_output=False,
                )
                break
            except Exception as error:
                # jupyter_client picks the kernel's ports free, then the kernel binds them: two
                # notebook jobs starting at once can pick the same port, and the kernel dies
                # with "Address already in use" before running a cell. Only that is retried.
                if attempt == KERNEL_STARTS or not port_clash(error):
                    raise
                log.warning("kernel start %d failed (%s): starting it again", attempt, error)
    with atomic_path(smk.output.notebook) as tmp:
        nbformat.write(executed, str(tmp))
    write_text(to_html(executed), smk.output.html)
