"""The ols-transformer command on hand-built result folders: help, --version, versions, show,
and the older commands' wiring (compare, claims). No workflow runs."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import tomllib
import yaml
from conftest import REPO, merged_config

from ols_transformer import claims, cli, cost

ANSI = re.compile(r"\033\[[0-9;]*m")
OLD_HEADER = ["claim_id", "kind", "section", "claim", "measured", "criterion", "threshold",
              "verdict", "source", "detail"]  # a ledger from before CONDITIONAL existed
NEW_HEADER = ["claim_id", "kind", "section", "quote", "claim", "estimate", "ci_low", "ci_high",
              "replicates", "criterion", "threshold", "threshold_origin", "verdict",
              "decided_by", "share_holds", "holds_where", "source", "detail"]


def write_csv(path: Path, header: list[str], rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)


def new_row(claim_id: str, verdict: str, measured: float, share: float | str = "",
            where: str = "", kind: str = "paper", ci: tuple[float, float] | None = None,
            decided_by: str = "") -> dict[str, object]:
    return {"claim_id": claim_id, "kind": kind, "section": "Sec. 2", "quote": "", "claim": "c",
            "estimate": measured, "ci_low": ci[0] if ci else "",
            "ci_high": ci[1] if ci else "", "replicates": 5 if ci else 0,
            "criterion": "x <= 1", "threshold": 1, "threshold_origin": "chosen",
            "verdict": verdict, "decided_by": decided_by, "share_holds": share,
            "holds_where": where, "source": "t.csv", "detail": "d"}


# Version A: 2 PASS, 1 CONDITIONAL, 1 FAIL, 1 INCONCLUSIVE, 1 REPORTED, 0 MISSING (new columns).
LEDGER_A = [new_row("proof.a", "PASS", 1.5e-11), new_row("proof.b", "PASS", 0.25),
            new_row("training.c", "CONDITIONAL", 0.123456, 0.5, "lr <= 0.01",
                    decided_by="lr"),
            new_row("hopfield.d", "FAIL", 3.0, 0.0, "nowhere"),
            new_row("shift.h", "INCONCLUSIVE", 0.9, ci=(0.7, 1.1)),
            new_row("icl.e", "REPORTED", 7.0, kind="extension")]
# Version B, an old ledger: 1 PASS, 2 MISSING.
LEDGER_B = [{"claim_id": "proof.a", "kind": "paper", "section": "Sec. 2", "claim": "c",
             "measured": 2e-11, "criterion": "x", "threshold": 1, "verdict": "PASS",
             "source": "t.csv", "detail": "d"},
            *({"claim_id": f"shift.{n}", "kind": "paper", "section": "Sec. 3", "claim": "c",
               "measured": "", "criterion": "", "threshold": "", "verdict": "MISSING",
               "source": "t.csv", "detail": "not run"} for n in ("f", "g"))]


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """results/ with versions.csv and three versions: A (new ledger), B (old ledger), C (no
    ledger: an unfinished run)."""
    root = tmp_path / "results"
    write_csv(root / "a-000000000001" / "claims" / "claims.csv", NEW_HEADER, LEDGER_A)
    write_csv(root / "b-000000000002" / "claims" / "claims.csv", OLD_HEADER, LEDGER_B)
    (root / "c-000000000003").mkdir()
    write_csv(root / "versions.csv",
              ["version", "run_name", "created", "git_commit", "code_sha256", "status"],
              [{"version": f"{v}-00000000000{i}", "run_name": v, "created": f"2026-01-0{i}",
                "git_commit": "abc", "code_sha256": "def",
                "status": "incomplete" if v == "c" else "complete"}
               for i, v in enumerate("abc", start=1)])
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().out


def rows_of(text: str) -> dict[str, list[str]]:
    """First column -> the cells of each table line under the header's rule."""
    lines = text.splitlines()
    body = lines[[i for i, line in enumerate(lines) if set(line) <= {"-", " "} and line][0] + 1:]
    return {cells[0]: cells for line in body if (cells := line.split())}


def header_line(text: str) -> str:
    """The table's header: the line after the summary's blank line."""
    return text.split("\n\n", 1)[1].splitlines()[0]


# ---- help and version ------------------------------------------------------------------------

def test_no_arguments_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys)
    assert code == 0
    assert out.startswith("usage: ols-transformer")
    for command in ("versions", "show", "compare", "claims", "reference"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command


def test_help_texts_are_plain_words(capsys: pytest.CaptureFixture[str]) -> None:
    texts = [cli.parser().format_help()]
    commands = next(a for a in cli.parser()._actions if a.dest == "command")
    texts += [sub.format_help() for sub in commands.choices.values()]
    for text in texts:
        assert "``" not in text and ":func:" not in text, text


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    expected = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"ols-transformer {expected}"


# ---- versions --------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["before", "after"])
def test_versions_counts_each_ledger(results: Path, where: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    args = (["--results", str(results), "versions"] if where == "before"
            else ["versions", "--results", str(results)])
    code, out = run(capsys, *args)
    assert code == 0
    header = out.splitlines()[0].split()
    assert header == ["version", "created", "status", "PASS", "FAIL", "CONDITIONAL",
                      "INCONCLUSIVE", "MISSING"]
    rows = rows_of(out)
    assert rows["a-000000000001"][3:] == ["2", "1", "1", "1", "0"]
    assert rows["b-000000000002"][3:] == ["1", "0", "0", "0", "2"]
    assert rows["c-000000000003"] == ["c-000000000003", "2026-01-03", "incomplete"]


def test_versions_without_an_index_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"versions\.csv is missing"):
        cli.main(["versions", "--results", str(tmp_path)])


# ---- show ------------------------------------------------------------------------------------

def test_show_prints_the_ledger(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "show", "a-000000000001", "--results", str(results))
    assert code == 0
    assert "\033" not in out  # not a terminal: no colour codes
    first = out.splitlines()[0]
    assert first.startswith("a-000000000001: 5 claims of the paper: 2 PASS, 1 CONDITIONAL, "
                            "1 INCONCLUSIVE, 1 FAIL, 0 MISSING")
    rows = rows_of(out)
    assert rows["proof.a"] == ["proof.a", "paper", "1.5e-11", "PASS"]
    assert rows["training.c"] == ["training.c", "paper", "0.123", "CONDITIONAL", "lr", "lr",
                                  "<=", "0.01", "(50%)"]
    assert rows["hopfield.d"] == ["hopfield.d", "paper", "3", "FAIL", "nowhere", "(0%)"]
    assert rows["shift.h"] == ["shift.h", "paper", "0.9", "[0.7,", "1.1]", "INCONCLUSIVE"]
    assert rows["icl.e"][:4] == ["icl.e", "extension", "7", "REPORTED"]
    assert header_line(out).split() == ["claim", "kind", "estimate", "[95%", "CI]",
                                           "verdict", "decided_by", "holds_where"]


def test_show_fits_the_terminal_width(results: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    import os
    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback=None: os.terminal_size(
        (90, 24)))
    ledger = results / "a-000000000001" / "claims" / "claims.csv"
    rows = [*LEDGER_A, new_row("proof.z", "PASS", 1.0, 1.0, "a very long where " * 10)]
    write_csv(ledger, NEW_HEADER, rows)
    code, out = run(capsys, "show", "a-000000000001", "--results", str(results))
    assert code == 0
    table = out.split("\n\n", 1)[1].splitlines()
    assert max(len(line) for line in table) <= 90
    assert rows_of(out)["proof.z"][-1].endswith("...")


def test_show_reads_an_old_ledger_by_path(results: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "show", str(results / "b-000000000002"))
    assert code == 0
    rows = rows_of(out)
    assert rows["proof.a"] == ["proof.a", "paper", "2e-11", "PASS"]
    assert rows["shift.f"] == ["shift.f", "paper", "n/a", "MISSING"]


def test_show_reads_the_committed_reference(capsys: pytest.CaptureFixture[str]) -> None:
    with (REPO / "docs" / "reference" / "claims" / "claims.csv").open() as handle:
        expected = {row["claim_id"]: row["verdict"] for row in csv.DictReader(handle)}
    code, out = run(capsys, "show", str(REPO / "docs" / "reference"), "--width", "0")
    assert code == 0
    # the verdict: the first cell after the claim that is one (the estimate's interval has
    # spaces)
    shown = {key: next(c for c in cells[1:] if c in claims.VERDICTS)
             for key, cells in rows_of(out).items()}
    assert shown == expected


@pytest.mark.parametrize("width", [80, 100, 120])
def test_show_keeps_claim_ids_whole_and_leaves_wide_columns_out(
        width: int, capsys: pytest.CaptureFixture[str]) -> None:
    """At a terminal's width every line fits, every claim id is whole (the column a reader
    looks up), the estimates and verdicts too; the text columns are cut, then left out, and a
    last line says which. (Narrower than those three, a line is longer than the terminal.)"""
    reference = REPO / "docs" / "reference"
    with (reference / "claims" / "claims.csv").open() as handle:
        ledger = {row["claim_id"]: row for row in csv.DictReader(handle)}
    code, out = run(capsys, "show", str(reference), "--width", str(width))
    assert code == 0
    # the columns never cut: the longest id, estimate and verdict (95 characters here)
    essential = max(len(c) for c in ledger) + 2 + 30 + 2 + len("INCONCLUSIVE")
    assert max(len(line) for line in out.splitlines()) <= max(width, essential)
    rows = rows_of(out.split("(left out", 1)[0])
    assert set(rows) == set(ledger)  # every id whole: none cut, none missing
    for claim_id, cells in rows.items():
        assert ledger[claim_id]["verdict"] in cells
    header = header_line(out).split()
    wide = [c for c in ("kind", "decided_by", "holds_where") if c not in header]
    if wide:
        note = " ".join(out.split("(left out", 1)[1].split())
        assert note.startswith(f"to fit {width} columns: {', '.join(wide)};")
    if width == 80:
        assert wide == ["kind", "decided_by", "holds_where"]


def test_the_summary_line_wraps_to_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    code, wide = run(capsys, "show", str(REPO / "docs" / "reference"), "--width", "0")
    summary = wide.split("\n\n", 1)[0]
    assert "\n" not in summary and len(summary) > 100  # one line without a limit
    code, out = run(capsys, "show", str(REPO / "docs" / "reference"), "--width", "90")
    wrapped = out.split("\n\n", 1)[0]
    assert max(len(line) for line in wrapped.splitlines()) <= 90
    assert " ".join(wrapped.split()) == " ".join(summary.split())  # the same words


def test_piping_into_head_ends_quietly(tmp_path: Path) -> None:
    """`ols-transformer show V | head`: the reader closes the pipe; the command stops with
    the status of a tool SIGPIPE ends, and no traceback."""
    command = [str(Path(sys.executable).with_name("ols-transformer")), "show",
               str(REPO / "docs" / "reference")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # before the command writes (its imports take longer than this)
    _, stderr = process.communicate(timeout=60)
    assert stderr.decode() == ""
    assert process.returncode == 141


def write_run(results: Path, version: str, created: str) -> None:
    marker = results / version / "provenance" / "run.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"created": created,
                                  "config": {"run_name": version.rsplit("-", 1)[0]}}))


def test_a_run_name_or_latest_selects_a_version(results: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    write_run(results, "a-000000000001", "2026-01-01T00:00:00+00:00")
    write_run(results, "a-000000000009", "2026-01-05T00:00:00+00:00")  # newer run of a, no ledger
    write_run(results, "b-000000000002", "2026-01-02T00:00:00+00:00")
    write_run(results, "paper-000000000004", "2026-01-04T00:00:00+00:00")
    write_csv(results / "paper-000000000004" / "claims" / "claims.csv", NEW_HEADER,
              [new_row("proof.p", "PASS", 1.0)])
    assert cli.resolve_version("paper", str(results)).name == "paper-000000000004"
    assert cli.resolve_version("a", str(results)).name == "a-000000000009"  # the newest
    assert cli.resolve_version("latest", str(results)).name == "a-000000000009"
    assert cli.resolve_version("b-000000000002", str(results)).name == "b-000000000002"
    code, out = run(capsys, "show", "paper", "--results", str(results))
    assert code == 0 and out.startswith("paper-000000000004: ") and "proof.p" in out
    with pytest.raises(SystemExit, match="no result version 'pape'"):
        cli.resolve_version("pape", str(results))


def test_cost_aligns_long_job_names() -> None:
    jobs = pd.DataFrame({"name": ["a", "attention_regression_rotated_sine_n500_snr2", "c"],
                         "stage": ["s", "attention_regression", "s"],
                         "reused": [False] * 3, "seconds": [1.0, 22.5, 3.25],
                         "max_rss_mb": [100.0, 2000.0, 50.0]})
    text = cost.format_cost(cost.cost_table(jobs, {"c": ["a"]}))
    rows = [line for line in text.splitlines() if line.startswith("  ")]
    assert len(rows) == 5  # 3 jobs, 2 stages
    ends = {re.search(r"\d\.\d\d s", line).end() for line in rows}  # where the seconds end
    assert len(ends) == 1, text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_show_colours_verdicts_on_a_terminal(results: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _, plain = run(capsys, "show", "a-000000000001", "--results", str(results))
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    assert cli.main(["show", "a-000000000001", "--results", str(results)]) == 0
    coloured = terminal.getvalue()
    assert "\033[32mPASS" in coloured and "\033[31mFAIL" in coloured
    assert "\033[33mCONDITIONAL" in coloured and "\033[36mINCONCLUSIVE" in coloured
    assert "\033[" not in header_line(coloured)  # the header is plain
    assert ANSI.sub("", coloured) == plain  # colour never shifts the columns

    monkeypatch.setenv("NO_COLOR", "1")
    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    cli.main(["show", "a-000000000001", "--results", str(results)])
    assert terminal.getvalue() == plain


def test_show_unknown_or_unfinished_version(results: Path) -> None:
    with pytest.raises(SystemExit, match="no result version 'nope'"):
        cli.main(["show", "nope", "--results", str(results)])
    with pytest.raises(SystemExit, match=r"claims\.csv is missing"):
        cli.main(["show", "c-000000000003", "--results", str(results)])


# ---- the older commands ----------------------------------------------------------------------

def test_compare_and_its_check(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = results / "a-000000000001", results / "b-000000000002"
    for version, value in ((a, 1.0), (b, 2.0)):
        write_csv(version / "tables" / "t.csv", ["seed", "x"], [{"seed": 0, "x": value}])
    code, out = run(capsys, "compare", str(a), str(a))
    assert code == 0
    code, out = run(capsys, "compare", str(a), str(b))
    assert code == 0 and "tables/t.csv" in out
    code, out = run(capsys, "compare", str(a), str(b), "--check")
    assert code == 1  # verdicts differ (proof.a's measured number, rows present in one only)


def test_claims_recomputes_from_tables(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    version = tmp_path / "v-000000000009"
    version.mkdir()
    (version / "config.resolved.yaml").write_text(yaml.safe_dump(merged_config()))
    code, out = run(capsys, "claims", str(version))
    assert code == 0 and out.startswith("# Claims ledger: v-000000000009")
    # No tables: every claim is MISSING, never PASS; --check fails on them.
    assert " PASS |" not in out and "MISSING" in out
    code, _ = run(capsys, "claims", str(version), "--check")
    assert code == 1


def test_reference_of_an_incomplete_version_says_what_lacks(results: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "reference"
    with pytest.raises(SystemExit, match=r"lacks config\.resolved\.yaml"):
        cli.main(["reference", "a-000000000001", "--results", str(results), "--out", str(out),
                  "--readme", ""])
    assert not out.exists()  # nothing written
