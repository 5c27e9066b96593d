"""Command line: ``ols-transformer compare A B``, ``claims VERSION``, ``reference VERSION``.

A version is a directory ``results/<run_name>-<hash>`` or just its name (looked up under
``--results``, default ``results``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from . import claims, compare, reference
from .io import read_table


def resolve_version(name: str, results: str) -> Path:
    """A version directory from a path or a version name under ``results``."""
    for candidate in (Path(name), Path(results) / name):
        if candidate.is_dir():
            return candidate
    raise SystemExit(f"error: no result version {name!r} (neither a directory nor under "
                     f"{results}/; see {results}/versions.csv)")


def run_compare(args: argparse.Namespace) -> int:
    a, b = resolve_version(args.a, args.results), resolve_version(args.b, args.results)
    summary, columns = compare.compare_versions(a, b)
    sys.stdout.write(compare.format_comparison(summary, columns, str(a), str(b)))
    if not args.check:
        return 0
    # --check: 1 when a claim's verdict or measured number differs (the tables above are
    # context: a fresh run on another machine may differ in the last digits).
    changes = compare.claim_changes(a, b, args.rtol)
    sys.stdout.write(compare.format_claim_changes(changes, args.rtol))
    return int(not changes.empty)


def run_reference(args: argparse.Namespace) -> int:
    version = resolve_version(args.version, args.results)
    written = reference.snapshot(version, Path(args.out), args.command_used)
    sys.stdout.write(f"wrote {len(written)} files of {version.name} to {args.out}\n")
    if args.readme:
        ledger = read_table(Path(args.out) / "claims" / "claims.csv")
        reference.update_readme(Path(args.readme), ledger)
        sys.stdout.write(f"updated the ledger table of {args.readme}\n")
    return 0


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


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="ols-transformer", description=__doc__.splitlines()[0])
    main.add_argument("--results", default="results",
                      help="directory holding the result versions (default: results)")
    commands = main.add_subparsers(dest="command", required=True)
    cmp = commands.add_parser("compare", help="which tables changed between two result "
                              "versions, and by how much")
    cmp.add_argument("a", help="version A (directory or name)")
    cmp.add_argument("b", help="version B (directory or name)")
    cmp.add_argument("--check", action="store_true",
                     help="compare the claims ledgers too; exit with status 1 if a verdict "
                     "differs or a measured number differs by more than --rtol")
    cmp.add_argument("--rtol", type=float, default=1e-6,
                     help="relative tolerance on the ledgers' measured numbers (default 1e-6)")
    cmp.set_defaults(run=run_compare)
    ref = commands.add_parser("reference", help="copy a result version's ledger, tables and PNG "
                              "figures into the committed reference (docs/reference)")
    ref.add_argument("version", help="the version (directory or name)")
    ref.add_argument("--out", default="docs/reference", help="default: docs/reference")
    ref.add_argument("--command-used", default="snakemake --cores 2",
                     help="how the run was made, for the reference's README")
    ref.add_argument("--readme", default="README.md",
                     help="rewrite this file's ledger table (between its markers); '' to skip")
    ref.set_defaults(run=run_reference)
    led = commands.add_parser("claims", help="recompute and print the claims ledger of a "
                              "result version from its tables")
    led.add_argument("version", help="the version (directory or name)")
    led.add_argument("--check", action="store_true",
                     help="exit with status 1 if a claim is FAIL or MISSING")
    led.set_defaults(run=run_claims)
    cst = commands.add_parser("cost", help="print what a result version's jobs cost: seconds, "
                              "peak memory, per stage, the critical path")
    cst.add_argument("version", help="the version (directory or name)")
    cst.set_defaults(run=run_cost)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
