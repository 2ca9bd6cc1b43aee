"""`.ci/schema_breaking.py` on real git histories: a breaking change to schema.graphql fails
unless its commit says `[breaking-api]` or a deprecation came first; this repository passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / ".ci" / "schema_breaking.py"

V1 = """type Query {
  gift(id: ID!): Gift
  gifts: [Gift!]!
  giftCount: Int!
}

type Gift {
  id: ID!
  name: String!
  coins: Int!
}

enum Asset {
  COIN
  DIAMOND
}
"""


def said(output: str, prefix: str, *words: str) -> bool:
    """Whether a line of the check's output starts with `prefix` and names every word (the
    wording of a change is graphql-core's, which differs between its versions)."""
    lines = (line.strip() for line in output.splitlines())
    return any(line.startswith(prefix) and all(w in line for w in words) for line in lines)


def _git_or_skip() -> str:
    found = shutil.which("git")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("git is required under CI=true for the breaking-change check")
        pytest.skip("git is not installed")
    return found


def run_check(cwd: Path, script: Path = Path(".ci/schema_breaking.py")) -> tuple[int, str, str]:
    """The check as CI runs it, in `cwd`: its exit status, stdout and stderr."""
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(script)], cwd=cwd, capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout, done.stderr


class Repo:
    """A git repository of its own with the check committed first, as on main."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.git_path = _git_or_skip()
        path.mkdir()
        self.git("init", "-q", "-b", "main")

    def add_the_check(self) -> None:
        (self.path / ".ci").mkdir()
        shutil.copy(CHECK, self.path / ".ci" / "schema_breaking.py")

    def git(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - git on a repository of the test's own
            [
                self.git_path,
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.invalid",
                "-c",
                "commit.gpgsign=false",
                *args,
            ],
            cwd=self.path,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def commit(self, message: str, schema: str | None = None) -> None:
        if schema is not None:
            (self.path / "schema.graphql").write_text(schema, encoding="utf-8")
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def check(self) -> tuple[int, str]:
        status, out, err = run_check(self.path)
        return status, out + err


@pytest.fixture
def started(tmp_path: Path) -> Repo:
    """The check and a first schema, in one commit."""
    made = Repo(tmp_path / "repo")
    made.add_the_check()
    made.commit("The API and its breaking-change check", V1)
    return made


def test_an_added_field_is_not_breaking(started: Repo) -> None:
    started.commit(
        "Gifts say when they were added", V1.replace("coins: Int!", "coins: Int!\n  at: String")
    )
    status, output = started.check()
    assert status == 0, output
    assert "1 mainline commit(s)" in output
    assert "no breaking change" in output


def test_a_removed_field_fails_without_the_marker(started: Repo) -> None:
    started.commit("Gifts lose their price", V1.replace("  coins: Int!\n", ""))
    status, output = started.check()
    assert status == 1, output
    assert said(output, "breaks:", "Gift.coins", "removed")
    assert "BREAKING, not marked [breaking-api]" in output


def test_a_retyped_field_and_a_removed_enum_value_fail(started: Repo) -> None:
    changed = V1.replace("coins: Int!", "coins: String!").replace("  DIAMOND\n", "")
    started.commit("Coins as text, diamonds gone", changed)
    status, output = started.check()
    assert status == 1, output
    assert said(output, "breaks:", "Gift.coins", "Int!", "String!")
    assert said(output, "breaks:", "Asset", "DIAMOND", "removed")


def test_the_marker_in_the_commit_message_sanctions_the_break(started: Repo) -> None:
    started.commit(
        "Gifts lose their price [breaking-api]: no client reads it",
        V1.replace("  coins: Int!\n", ""),
    )
    status, output = started.check()
    assert status == 0, output
    assert "breaking, marked [breaking-api]" in output


def test_a_removal_after_a_deprecation_passes(started: Repo) -> None:
    deprecated = (
        V1.replace("coins: Int!", 'coins: Int! @deprecated(reason: "Use price.")\n  price: Int!')
        .replace("  DIAMOND\n", '  DIAMOND @deprecated(reason: "Gone.")\n')
        .replace("gift(id: ID!)", 'gift(id: ID!, locale: String @deprecated(reason: "Unused."))')
    )
    started.commit("Deprecate Gift.coins, Asset.DIAMOND and gift's locale", deprecated)
    removed = (
        deprecated.replace('  coins: Int! @deprecated(reason: "Use price.")\n', "")
        .replace('  DIAMOND @deprecated(reason: "Gone.")\n', "")
        .replace(', locale: String @deprecated(reason: "Unused.")', "")
    )
    started.commit("Remove what was deprecated", removed)
    status, output = started.check()
    assert status == 0, output
    assert said(output, "removes what was deprecated:", "Gift.coins", "removed")
    assert said(output, "removes what was deprecated:", "Asset", "DIAMOND", "removed")
    assert said(output, "removes what was deprecated:", "Query.gift", "locale", "removed")


def test_a_removal_without_a_deprecation_fails_beside_one_with(started: Repo) -> None:
    deprecated = V1.replace("coins: Int!", 'coins: Int! @deprecated(reason: "Use price.")')
    started.commit("Deprecate Gift.coins", deprecated)
    removed = deprecated.replace('  coins: Int! @deprecated(reason: "Use price.")\n', "").replace(
        "  name: String!\n", ""
    )
    started.commit("Remove Gift.coins, and Gift.name with it", removed)
    status, output = started.check()
    assert status == 1, output
    assert said(output, "breaks:", "Gift.name", "removed")
    assert not said(output, "breaks:", "Gift.coins")


PLACES = (
    V1.replace(
        "  giftCount: Int!\n",
        '  giftCount: Int!\n  places: [Place!]! @deprecated(reason: "Use ranking.")\n'
        "  ranking: [Gift!]!\n",
    )
    + "\ntype Place {\n  rank: Int!\n}\n"
)


def test_a_type_only_deprecated_fields_returned_may_go_with_them(started: Repo) -> None:
    started.commit("Places, deprecated", PLACES)
    started.commit(
        "Places go", V1.replace("  giftCount: Int!\n", "  giftCount: Int!\n  ranking: [Gift!]!\n")
    )
    status, output = started.check()
    assert status == 0, output
    assert said(output, "removes what was deprecated:", "Place", "removed")


def test_a_type_another_field_still_returned_may_not_go(started: Repo) -> None:
    kept = PLACES.replace("  ranking: [Gift!]!\n", "  ranking: [Place!]!\n")
    started.commit("Places, deprecated in one field only", kept)
    started.commit(
        "Places go", V1.replace("  giftCount: Int!\n", "  giftCount: Int!\n  ranking: [Gift!]!\n")
    )
    status, output = started.check()
    assert status == 1, output
    assert said(output, "breaks:", "Query.ranking", "Place", "Gift")


def _branch_with_a_break(repo: Repo, message: str) -> None:
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(message, V1.replace("  gifts: [Gift!]!\n", ""))
    repo.commit("An unrelated change on the branch")
    repo.git("checkout", "-q", "main")
    repo.commit("Meanwhile on main")


def test_a_merge_is_sanctioned_by_a_marked_commit_it_brings_in(started: Repo) -> None:
    _branch_with_a_break(started, "Drop the gift list [breaking-api]")
    started.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    status, output = started.check()
    assert status == 0, output
    assert "Merge feature" in output


def test_a_merge_bringing_an_unmarked_break_fails(started: Repo) -> None:
    _branch_with_a_break(started, "Drop the gift list")
    started.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    status, output = started.check()
    assert status == 1, output
    assert said(output, "breaks:", "Query.gifts", "removed")


def test_the_marker_on_the_merge_sanctions_what_it_brings(started: Repo) -> None:
    _branch_with_a_break(started, "Drop the gift list")
    started.git("merge", "-q", "--no-ff", "-m", "Merge feature [breaking-api]", "feature")
    status, output = started.check()
    assert status == 0, output


def test_history_before_the_check_arrived_is_not_judged(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("The API", V1)
    repo.commit("Gifts lose their price, before any rule", V1.replace("  coins: Int!\n", ""))
    repo.add_the_check()
    repo.commit("The breaking-change check")
    status, output = repo.check()
    assert status == 0, output
    assert "0 mainline commit(s)" in output


def test_what_main_did_before_the_check_was_merged_in_is_not_judged(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("The API", V1)
    repo.git("checkout", "-q", "-b", "checker")
    repo.add_the_check()
    repo.commit("The breaking-change check")
    repo.git("checkout", "-q", "main")
    repo.commit("Gifts lose their price, on main meanwhile", V1.replace("  coins: Int!\n", ""))
    repo.git("merge", "-q", "--no-ff", "-m", "Merge checker", "checker")
    status, output = repo.check()
    assert status == 0, output
    assert "0 mainline commit(s)" in output
    repo.commit(
        "Gifts lose their name", V1.replace("  coins: Int!\n", "").replace("  name: String!\n", "")
    )
    status, output = repo.check()
    assert status == 1, output
    assert said(output, "breaks:", "Gift.name", "removed")
    assert not said(output, "breaks:", "Gift.coins")


def test_an_uncommitted_break_is_reported_and_does_not_fail(started: Repo) -> None:
    (started.path / "schema.graphql").write_text(V1.replace("  coins: Int!\n", ""))
    status, output = started.check()
    assert status == 0, output
    assert said(output, "uncommitted: breaks", "Gift.coins", "removed")


def test_a_shallow_clone_without_the_checks_commit_cannot_be_checked(
    started: Repo, tmp_path: Path
) -> None:
    started.commit("Gifts lose their price", V1.replace("  coins: Int!\n", ""))
    clone = tmp_path / "clone"
    started.git("clone", "-q", "--depth", "1", f"file://{started.path}", str(clone))
    status, out, err = run_check(clone)
    assert status == 2, out + err
    assert "git fetch --unshallow" in err


def test_this_repository_has_no_unsanctioned_breaking_change() -> None:
    _git_or_skip()
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    status, out, err = run_check(ROOT, CHECK)
    assert status == 0, out + err
