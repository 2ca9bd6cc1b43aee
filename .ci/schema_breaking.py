"""The breaking-change check of schema.graphql: each mainline commit after this script arrived
against its first parent (graphql-core's find_breaking_changes), sanctioned only as documented."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    BreakingChange,
    BreakingChangeType,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    get_named_type,
)

SCHEMA = "schema.graphql"
CHECK = ".ci/schema_breaking.py"
MARKER = "[breaking-api]"
"""In the message of the commit that breaks the API (or of a commit a merge brings in with it,
or of the merge itself): the break is intended."""

OK, BROKEN, CANNOT_CHECK = 0, 1, 2

# How find_breaking_changes words a removal, in graphql-core 3.3 and in 3.2: what a
# deprecation in the parent's schema may excuse, named as `deprecated_elements` names it.
_REMOVALS: dict[BreakingChangeType, tuple[re.Pattern[str], ...]] = {
    BreakingChangeType.FIELD_REMOVED: (
        re.compile(r"^(?:Field )?(?P<type>\w+)\.(?P<name>\w+) was removed\.$"),
    ),
    BreakingChangeType.VALUE_REMOVED_FROM_ENUM: (
        re.compile(r"^Enum value (?P<type>\w+)\.(?P<name>\w+) was removed\.$"),
        re.compile(r"^(?P<name>\w+) was removed from enum type (?P<type>\w+)\.$"),
    ),
    BreakingChangeType.ARG_REMOVED: (
        re.compile(r"^Argument (?P<type>\w+)\.(?P<field>\w+)\((?P<name>\w+):\) was removed\.$"),
        re.compile(r"^(?P<type>\w+)\.(?P<field>\w+) arg (?P<name>\w+) was removed\.$"),
    ),
    BreakingChangeType.TYPE_REMOVED: (
        re.compile(r"^(?:Standard scalar )?(?P<name>\w+) was removed"),
    ),
}


class CannotCheck(Exception):
    """The history needed is not there (no git, a shallow clone...): the check cannot run."""


@dataclass(frozen=True)
class Step:
    """One mainline commit that changed schema.graphql, with what it broke."""

    commit: str
    subject: str
    breaking: list[str]
    excused: list[str]
    dangerous: list[str]
    sanctioned: bool


def git(root: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - git, with our own arguments
        ["git", *args],  # noqa: S607
        cwd=root,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise CannotCheck(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def deprecated_elements(schema: GraphQLSchema) -> set[str]:
    """Every deprecated field and input field (`Type.field`), argument (`Type.field(arg)`) and
    enum value (`Enum.VALUE`) of a schema, and every type that only deprecated fields,
    arguments and input fields name (`Type`): removing one of them breaks no client that heeded
    the deprecation."""
    found: set[str] = set()
    references: dict[str, list[str]] = {}

    def uses(type_name: str, element: str, deprecation_reason: str | None) -> None:
        references.setdefault(type_name, []).append(element)
        if deprecation_reason is not None:
            found.add(element)

    for name, named in schema.type_map.items():
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                element = f"{name}.{field_name}"
                uses(get_named_type(field.type).name, element, field.deprecation_reason)
                for arg_name, arg in field.args.items():
                    argument = f"{element}({arg_name})"
                    reason = arg.deprecation_reason or field.deprecation_reason
                    uses(get_named_type(arg.type).name, argument, reason)
            for interface in named.interfaces:
                references.setdefault(interface.name, []).append(f"{name} implements")
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                element = f"{name}.{field_name}"
                uses(get_named_type(input_field.type).name, element, input_field.deprecation_reason)
        elif isinstance(named, GraphQLUnionType):
            for member in named.types:
                references.setdefault(member.name, []).append(f"{name} member")
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                if value.deprecation_reason is not None:
                    found.add(f"{name}.{value_name}")
    roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
    root_names = {root.name for root in roots if root is not None}
    for type_name, elements in references.items():
        if elements and type_name not in root_names and all(e in found for e in elements):
            found.add(type_name)
    return found


def removal_subject(change: BreakingChange) -> str | None:
    """What a breaking change removed (`Type.field`, `Type.field(arg)`, `Enum.VALUE`, `Type`),
    or None when it is no removal."""
    for pattern in _REMOVALS.get(change.type, ()):
        match = pattern.match(change.description)
        if match is None:
            continue
        parts = match.groupdict()
        if "field" in parts:
            return f"{parts['type']}.{parts['field']}({parts['name']})"
        if "type" in parts:
            return f"{parts['type']}.{parts['name']}"
        return parts["name"]
    return None


def compare(old_sdl: str, new_sdl: str) -> tuple[list[str], list[str], list[str]]:
    """The breaking changes from `old_sdl` to `new_sdl` that no deprecation excuses, those a
    deprecation in `old_sdl` excuses, and the dangerous ones."""
    old, new = build_schema(old_sdl), build_schema(new_sdl)
    deprecated = deprecated_elements(old)
    breaking: list[str] = []
    excused: list[str] = []
    for change in find_breaking_changes(old, new):
        removed = removal_subject(change)
        (excused if removed in deprecated else breaking).append(change.description)
    dangerous = [change.description for change in find_dangerous_changes(old, new)]
    return breaking, excused, dangerous


def blob_ids(root: Path, revisions: list[str], path: str) -> dict[str, str | None]:
    """The blob id of `path` at each revision (None where it has none), in one git call."""
    if not revisions:
        return {}
    lines = git(
        root,
        "cat-file",
        "--batch-check=%(objectname) %(objecttype)",
        stdin="".join(f"{revision}:{path}\n" for revision in revisions),
    ).splitlines()
    return {
        revision: line.split()[0] if line.endswith(" blob") else None
        for revision, line in zip(revisions, lines, strict=True)
    }


def arrival_commit(root: Path) -> str | None:
    """The first commit on HEAD's mainline (its first parents) that has this check: the merge
    that brought it in, or the commit that added it; what the mainline did before predates the
    rule. None while the check is not committed. A shallow clone cut there or later lacks
    steps to check, and cannot be checked."""
    mainline = git(root, "rev-list", "--first-parent", "HEAD").split()
    has_check = blob_ids(root, mainline, CHECK)
    arrival: str | None = None
    for commit in mainline:
        if has_check[commit] is None:
            break
        arrival = commit
    if git(root, "rev-parse", "--is-shallow-repository").strip() == "true":
        cut = Path(
            git(root, "rev-parse", "--path-format=absolute", "--git-path", "shallow").strip()
        )
        if arrival is None or arrival in cut.read_text(encoding="utf-8").split():
            raise CannotCheck(
                f"a shallow clone, cut after the commit that brought {CHECK} in: "
                "fetch the history (git fetch --unshallow)"
            )
    return arrival


def mainline_steps(root: Path, since: str) -> list[Step]:
    """Each first-parent commit after `since` (the check's arrival) whose schema.graphql
    differs from its first parent's, compared with it. A merge brings its branch's commits in:
    a marker in any of their messages, or in the merge's, sanctions what the step breaks."""
    rows = git(root, "rev-list", "--first-parent", "--parents", "--reverse", f"{since}..HEAD")
    pairs = [(row.split()[0], row.split()[1]) for row in rows.splitlines() if len(row.split()) > 1]
    blobs = blob_ids(root, sorted({revision for pair in pairs for revision in pair}), SCHEMA)
    steps: list[Step] = []
    for commit, parent in pairs:
        old_blob, new_blob = blobs[parent], blobs[commit]
        if old_blob is None or new_blob is None or old_blob == new_blob:
            continue
        breaking, excused, dangerous = compare(
            git(root, "cat-file", "blob", old_blob), git(root, "cat-file", "blob", new_blob)
        )
        messages = git(root, "log", "--format=%B", f"{parent}..{commit}")
        steps.append(
            Step(
                commit=commit,
                subject=git(root, "log", "-1", "--format=%h %s", commit).strip(),
                breaking=breaking,
                excused=excused,
                dangerous=dangerous,
                sanctioned=MARKER in messages,
            )
        )
    return steps


def uncommitted_breaks(root: Path) -> list[str]:
    """What the working tree's schema.graphql breaks against HEAD's (not yet committed)."""
    head = blob_ids(root, ["HEAD"], SCHEMA)["HEAD"]
    current = root / SCHEMA
    if head is None or not current.is_file():
        return []
    breaking, _excused, _dangerous = compare(
        git(root, "cat-file", "blob", head), current.read_text(encoding="utf-8")
    )
    return breaking


def report(steps: list[Step]) -> int:
    """Prints every step that changed the schema; OK, or BROKEN when a break is unsanctioned."""
    status = OK
    for step in steps:
        if step.breaking and not step.sanctioned:
            verdict = "BREAKING, not marked " + MARKER
            status = BROKEN
        elif step.breaking:
            verdict = f"breaking, marked {MARKER}"
        else:
            verdict = "no breaking change"
        print(f"{step.subject}\n    {verdict}")
        for description in step.breaking:
            print(f"    breaks: {description}")
        for description in step.excused:
            print(f"    removes what was deprecated: {description}")
        for description in step.dangerous:
            print(f"    dangerous: {description}")
    return status


def main() -> int:
    here = Path(__file__).resolve().parent
    try:
        root = Path(git(here, "rev-parse", "--show-toplevel").strip())
        since = arrival_commit(root)
        if since is None:
            print(f"{CHECK} is not committed yet: no commit to check")
            steps = []
        else:
            steps = mainline_steps(root, since)
        status = report(steps)
        pending = uncommitted_breaks(root)
    except CannotCheck as exc:
        print(f"cannot check {SCHEMA} for breaking changes: {exc}", file=sys.stderr)
        return CANNOT_CHECK
    for description in pending:
        print(f"uncommitted: breaks {description} (commit it with {MARKER} in the message)")
    since_text = "" if since is None else f" after {since[:10]}"
    print(
        f"{SCHEMA}: {len(steps)} mainline commit(s){since_text} changed it, "
        f"{sum(bool(step.breaking) for step in steps)} breaking, "
        + ("all sanctioned" if status == OK else "NOT ALL SANCTIONED")
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
