"""`diamonds compliance ...` on a migrated database: loading the sample sanctions list (twice is
once), a malformed list refused with its line, key rotation, expiry and the year-end CSV.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from diamonds.cli import main

from .compliance_fixtures import fresh_compliance_tables  # noqa: F401  (autouse)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_sample_list_loads_once_and_bad_lists_are_refused(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database-url", database_url)
    code, out, _ = run(capsys, "compliance", "sanctions", "load", "--sample", *db)
    assert code == 0
    assert "loaded as version 1 (10 entries" in out
    code, out, _ = run(capsys, "compliance", "sanctions", "load", "--sample", *db)
    assert (code, "already loaded as version 1" in out) == (0, True)
    broken = tmp_path / "sdn.csv"
    broken.write_text('1,"ONLY THREE","individual"\n')
    code, _, err = run(capsys, "compliance", "sanctions", "load", str(broken), *db)
    assert code == 1
    assert "line 1: expected 12 fields" in err
    code, _, err = run(capsys, "compliance", "sanctions", "load", *db)
    assert (code, "give the sdn.csv" in err) == (2, True)
    code, out, _ = run(capsys, "compliance", "sanctions", "rescreen", *db)
    assert (code, out.strip()) == (0, "screened 0 people, 0 possible match(es) for review")


def test_rotation_expiry_and_the_report_run_on_an_empty_database(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--database-url", database_url)
    code, out, _ = run(capsys, "compliance", "keys", "rotate", *db)
    assert code == 0
    assert out.startswith("re-encrypted 0 TIN(s) and 0 account number(s)")
    assert run(capsys, "compliance", "expire", *db)[:2] == (
        0,
        "0 identity verification(s) expired\n",
    )
    target = tmp_path / "2026.csv"
    code, out, _ = run(
        capsys, "compliance", "report", "--year", "2026", "--output", str(target), *db
    )
    assert (code, out.strip()) == (0, f"wrote 0 row(s) to {target}")
    assert target.read_text().startswith("year,user_id,subject,legal_name,country,tax_form")
    code, _, err = run(capsys, "compliance", "report", "--year", "1999", *db)
    assert (code, "--year must be between" in err) == (2, True)
