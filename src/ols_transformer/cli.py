"""The ols-transformer command: look at the result versions of the replication pipeline.

A version is a directory results/<run_name>-<hash>, given as a path or just its name (looked up
under --results, default results). The pipeline itself runs with snakemake (see the README).
Thin: it parses arguments and calls the library (overview, compare, claims, reference).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TextIO

import yaml

from . import claims, compare, overview, reference, versioning
from .io import read_table

DESCRIPTION = "Look at the result versions of the OLS-Transformer replication pipeline."
EPILOG = """examples:
  ols-transformer versions             every result version, with its verdict counts
  ols-transformer show VERSION         one version's claims and verdicts
  ols-transformer show docs/reference  the committed reference run
  ols-transformer compare A B --check  what changed between two versions

The pipeline itself runs with snakemake (snakemake --cores 2); see the README."""


LATEST = "latest"


def resolve_version(name: str, results: str) -> Path:
    """A version directory from a path, a version name under ``results``, a run name (its
    newest version: ``paper`` for ``paper-<hash>``) or ``latest`` (the newest version)."""
    for candidate in (Path(name), Path(results) / name):
        if candidate.is_dir():
            return candidate
    newest = versioning.newest_version(Path(results), None if name == LATEST else name)
    if newest is not None:
        return newest
    raise SystemExit(f"error: no result version {name!r} (neither a directory, a version or "
                     f"run name under {results}/, nor {LATEST!r}; see "
                     f"`ols-transformer versions --results {results}`)")


def package_version() -> str:
    """The installed package's version (pyproject.toml's), or 'unknown' if not installed."""
    try:
        return metadata.version("ols-transformer")
    except metadata.PackageNotFoundError:
        return "unknown"


def _colour(stream: TextIO) -> bool:
    """ANSI colours only on a terminal (and never with NO_COLOR set: no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def _fail(error: Exception) -> SystemExit:
    return SystemExit(f"error: {error}")


def run_versions(args: argparse.Namespace) -> int:
    try:
        table = overview.versions_table(Path(args.results))
    except FileNotFoundError as error:
        raise _fail(error) from None
    shown = table[[c for c in ("version", "created", "status", *overview.COUNTED)
                   if c in table]]
    sys.stdout.write(overview.format_table(shown, right=overview.COUNTED))
    for row in table[table["damaged"] != ""].itertuples(index=False):
        sys.stdout.write(f"{row.version} is damaged (its copies no longer match their "
                         "provenance; a run of its config writes a new version):\n"
                         + "".join(f"  {line}\n" for line in str(row.damaged).split("; ")))
    return 0


def run_show(args: argparse.Namespace) -> int:
    version = resolve_version(args.version, args.results)
    try:
        ledger = overview.read_ledger(version)
    except FileNotFoundError as error:
        raise _fail(error) from None
    width = (shutil.get_terminal_size(fallback=(120, 24)).columns if args.width is None
             else args.width or None)
    sys.stdout.write(summary_lines(f"{version.name}: {claims.counts(ledger)}", width) + "\n\n")
    sys.stdout.write(overview.format_table(overview.show_table(ledger), _colour(sys.stdout),
                                           width=width))
    return 0


def summary_lines(summary: str, width: int | None) -> str:
    """The verdict counts on one line where they fit ``width``, else one line per group of
    claims (the paper's, the extensions, ...), each wrapped to ``width``."""
    if width is None or len(summary) <= width:
        return summary
    groups = summary.split("; ")
    return "\n".join(textwrap.fill(group + (";" if i < len(groups) - 1 else ""), width,
                                   initial_indent="  " if i else "", subsequent_indent="    ",
                                   break_on_hyphens=False)
                     for i, group in enumerate(groups))


def run_compare(args: argparse.Namespace) -> int:
    a, b = resolve_version(args.a, args.results), resolve_version(args.b, args.results)
    summary, columns = compare.compare_versions(a, b)
    sys.stdout.write(compare.format_comparison(summary, columns, str(a), str(b)))
    if not args.check:
        return 0
    # --check: 1 when a claim's verdict or estimate differs (the tables above are
    # context: a fresh run on another machine may differ in the last digits).
    try:
        changes = compare.claim_changes(a, b, args.rtol)
    except FileNotFoundError as error:
        raise _fail(error) from None
    sys.stdout.write("\n" + compare.format_claim_changes(changes, args.rtol))
    return int(not changes.empty)


DEFAULT_REFERENCE = "docs/reference"


def run_reference(args: argparse.Namespace) -> int:
    version = resolve_version(args.version, args.results)
    if args.twin:
        return run_twin(args, version)
    try:
        written = reference.snapshot(version, Path(args.out), args.command_used)
    except FileNotFoundError as error:
        raise _fail(error) from None
    sys.stdout.write(f"wrote {len(written)} files of {version.name} to {args.out}\n")
    if args.readme:
        ledger = read_table(Path(args.out) / "claims" / "claims.csv")
        reference.update_readme(Path(args.readme), ledger)
        sys.stdout.write(f"updated the ledger table of {args.readme}\n")
    return 0


def run_twin(args: argparse.Namespace, version: Path) -> int:
    """``reference --twin``: the run with other seeds into ``reference.TWIN`` (or --out), and
    docs/results.md's "verdicts across seeds" from the reference's and the twin's ledgers."""
    out = Path(reference.TWIN if args.out == DEFAULT_REFERENCE else args.out)
    try:
        written = reference.snapshot_twin(version, out, args.command_used)
    except FileNotFoundError as error:
        raise _fail(error) from None
    sys.stdout.write(f"wrote {len(written)} files of {version.name} to {out}\n")
    ledgers = [read_table(Path(d) / "claims" / "claims.csv") for d in (args.against, out)]
    if args.results_md:
        reference.update_seeds_section(Path(args.results_md), *ledgers,
                                       (str(args.against), str(out)))
        sys.stdout.write(f"updated the verdicts across seeds of {args.results_md}\n")
    differ = reference.seed_differences(*ledgers)
    sys.stdout.write(reference.seeds_section(*ledgers, (str(args.against), str(out))) + "\n")
    return int((differ["problem"] != "").any())


def run_claims(args: argparse.Namespace) -> int:
    version = resolve_version(args.version, args.results)
    tables = {name: read_table(path) for name in claims.LEDGER_TABLES
              if (path := version / "tables" / f"{name}.csv").is_file()}
    config_file = version / "config.resolved.yaml"
    if not config_file.is_file():
        raise SystemExit(f"error: {config_file} is missing: the criteria of a version come "
                         "from its resolved config")
    config = yaml.safe_load(config_file.read_text())
    ledger = claims.build_ledger(tables, claims.criteria_from_config(config))
    sys.stdout.write(claims.to_markdown(ledger, f"Claims ledger: {version.name}"))
    # --check: 1 when a claim is FAIL or MISSING (REPORTED rows are not judged).
    return int(args.check and not claims.failed(ledger).empty)


def run_cost(args: argparse.Namespace) -> int:
    from .cost import print_cost

    return print_cost(resolve_version(args.version, args.results))


def run_config(args: argparse.Namespace) -> int:
    """``config FILE...``: the config a run with ``--configfile FILE...`` would get, checked as
    the workflow checks it before any job, with the file and line of a YAML error."""
    from .config import ConfigError, device_problems, merged_config_files, validate_config
    from .stages import selected

    try:
        config = merged_config_files([args.defaults, *args.files])
        validate_config(config)
        selected(config)  # the stages it names (config `stages`)
    except ConfigError as error:
        raise SystemExit(str(error)) from None
    for line in device_problems(config):
        sys.stdout.write(f"warning: {line}; a local run refuses it, a cluster run only warns\n")
    sys.stdout.write(f"config valid: {', '.join(map(str, [args.defaults, *args.files]))}\n")
    return 0


def run_stages(args: argparse.Namespace) -> int:
    """The registry: each stage, its config section, rules, upstream and outputs."""
    from .stages import STAGES

    for stage in STAGES.values():
        rules = stage.name + (f", {stage.name}_part (one job per part)" if stage.parts else "")
        print(f"{stage.name}: section {stage.criteria_section}; rules {rules}; reads "
              f"{', '.join(stage.upstream) or 'nothing upstream'}\n"
              f"  tables: {', '.join(stage.tables()) or '-'}\n"
              f"  figures: {', '.join(stage.figures()) or '-'}"
              + ("\n  notebook: notebooks/" + stage.name + ".ipynb" if stage.notebook else ""))
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="ols-transformer", description=DESCRIPTION,
                                   epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    main.add_argument("--results", default="results",
                      help="the folder holding the result versions (default: results)")
    # The same option after the command too (ols-transformer versions --results DIR); SUPPRESS
    # keeps a value given before the command.
    results = argparse.ArgumentParser(add_help=False)
    results.add_argument("--results", default=argparse.SUPPRESS,
                         help="the folder holding the result versions (default: results)")
    commands = main.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    ver = commands.add_parser("versions", parents=[results],
                              help="list the result versions and their verdict counts",
                              description="List the result versions (results/versions.csv) "
                              "with how many claims each one passes, fails, passes only "
                              "under some settings (CONDITIONAL), leaves undecided by its interval "
                              "(INCONCLUSIVE) or could not judge (MISSING).")
    ver.set_defaults(run=run_versions)
    show = commands.add_parser("show", parents=[results],
                               help="print one version's claims and their verdicts",
                               description="Print the claims ledger of one result version as "
                               "a table: each claim, its kind (the paper's or our extension), "
                               "the estimate and its 95% interval, the verdict, what decides "
                               "it and where it holds, cut to the terminal's width. Verdicts "
                               "are coloured on a terminal.")
    show.add_argument("version", help="a version name under the results folder, a run name "
                      "(its newest version), 'latest', or a path such as docs/reference")
    show.add_argument("--width", type=int, default=None,
                      help="fit the table to this many characters (default: the terminal's; "
                      "0: no limit, every column whole)")
    show.set_defaults(run=run_show)
    cmp = commands.add_parser("compare", parents=[results],
                              help="which tables changed between two result versions, and by "
                              "how much")
    cmp.add_argument("a", help="version A (a name or a path)")
    cmp.add_argument("b", help="version B (a name or a path)")
    cmp.add_argument("--check", action="store_true",
                     help="compare the claims ledgers too, claim by claim; exit with status 1 "
                     "if a verdict differs, an estimate at rounding level (a rounding error, "
                     f"or a ratio, digits or slope of them) moved by more than a factor "
                     f"{compare.MAGNITUDE:g}, or another estimate by more than --rtol")
    cmp.add_argument("--rtol", type=float, default=compare.DEFAULT_RTOL,
                     help="relative tolerance on the estimates not at rounding level "
                     f"(default {compare.DEFAULT_RTOL:g})")
    cmp.set_defaults(run=run_compare)
    led = commands.add_parser("claims", parents=[results],
                              help="recompute one version's claims ledger from its tables and "
                              "print it as Markdown")
    led.add_argument("version", help="a version name or a path")
    led.add_argument("--check", action="store_true",
                     help="exit with status 1 if a claim is FAIL or MISSING")
    led.set_defaults(run=run_claims)
    ref = commands.add_parser("reference", parents=[results],
                              help="copy a version's ledger, tables and PNG figures into the "
                              "committed reference (docs/reference)")
    ref.add_argument("version", help="a version name or a path")
    ref.add_argument("--out", default=DEFAULT_REFERENCE, help="default: docs/reference "
                     "(with --twin: docs/reference-seeds)")
    ref.add_argument("--command-used", default="snakemake --cores 2",
                     help="how the run was made, for the reference's README")
    ref.add_argument("--readme", default="README.md",
                     help="rewrite this file's ledger table (between its markers); '' to skip")
    ref.add_argument("--twin", action="store_true",
                     help="the version is the run with config/other_seeds.yaml: keep its ledger "
                     "beside the reference's and write docs/results.md's verdicts across seeds "
                     "(exit 1 if a verdict moves between PASS and FAIL, or differs where "
                     "neither side is INCONCLUSIVE)")
    ref.add_argument("--against", default=DEFAULT_REFERENCE,
                     help="with --twin: the reference it is compared with (default: "
                     "docs/reference)")
    ref.add_argument("--results-md", default="docs/results.md",
                     help="with --twin: the file whose verdicts across seeds are rewritten; '' "
                     "to skip")
    ref.set_defaults(run=run_reference)
    cst = commands.add_parser("cost", parents=[results],
                              help="print what a result version's jobs cost: seconds, peak "
                              "memory, per stage, the critical path")
    cst.add_argument("version", help="a version name under the results folder, or a path")
    cst.set_defaults(run=run_cost)
    cfg = commands.add_parser("config", help="check config files before a run: YAML errors "
                              "with their file and line, then every value as the workflow "
                              "checks it", description="Merge the default config and FILEs "
                              "in order, as `snakemake --configfile FILE...` does, and check "
                              "the result as the workflow does before any job. Snakemake reads "
                              "--configfile files itself and names neither the file nor the "
                              "line of a YAML error; this does.")
    cfg.add_argument("files", nargs="*", metavar="FILE", help="config files, as given to "
                     "--configfile")
    cfg.add_argument("--defaults", default="config/config.yaml",
                     help="the workflow's own config file (default: config/config.yaml)")
    cfg.set_defaults(run=run_config)
    stg = commands.add_parser("stages", help="list the pipeline's stages (the registry): "
                              "config section, rules, what each reads and writes")
    stg.set_defaults(run=run_stages)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.command is None:  # no command: the help, not an error
        cli.print_help()
        return 0
    try:
        code = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`ols-transformer show V | head`): stop quietly, as Unix tools do.
        # Python would flush stdout again at exit and fail on the closed pipe: point it at
        # /dev/null first (the recipe of Python's signal documentation).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # what a tool killed by SIGPIPE reports
    return code


if __name__ == "__main__":
    sys.exit(main())
