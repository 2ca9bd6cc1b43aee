"""The typed clients of `clients/`: every example operation is valid against schema.graphql,
codegen's scalar mappings match the wire form, and the generated TypeScript compiles (tsc)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLScalarType, GraphQLSchema, OperationDefinitionNode, build_schema, parse
from graphql import validate as validate_document

from graph.scalars import BIGINT_SCALAR, DATE_SCALAR, DATETIME_SCALAR

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "clients" / "operations"
TYPESCRIPT = ROOT / "clients" / "typescript"
CODEGEN = json.loads((TYPESCRIPT / "codegen.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sdl_schema() -> GraphQLSchema:
    return build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))


def _operation_files() -> list[Path]:
    return sorted(OPERATIONS.glob("*.graphql"))


def test_the_operations_cover_what_a_frontend_needs() -> None:
    names = {path.stem for path in _operation_files()}
    assert {
        "SendGift",
        "GiftCatalog",
        "Wallet",
        "WalletHistory",
        "LiveStreams",
        "Stream",
        "Leaderboard",
        "RequestPayout",
        "Payouts",
        "WalletChanged",
        "GiftReceived",
        "LeaderboardChanged",
        "PayoutStatusChanged",
    } <= names


@pytest.mark.parametrize("path", _operation_files(), ids=lambda path: path.stem)
def test_an_operation_is_valid_against_the_schema(sdl_schema: GraphQLSchema, path: Path) -> None:
    document = parse(path.read_text(encoding="utf-8"))
    assert validate_document(sdl_schema, document) == []
    names = [d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert names == [path.stem], "one operation per file, named as the file"


def _mapping(scalar: str) -> dict[str, str]:
    mapped: str | dict[str, str] = CODEGEN["generates"]["generated/operations.ts"]["config"][
        "scalars"
    ][scalar]
    return {"input": mapped, "output": mapped} if isinstance(mapped, str) else mapped


def _typescript_type_of(value: Any) -> str:
    """The TypeScript type a JSON value arrives as."""
    wire = json.loads(json.dumps(value))
    return {str: "string", int: "number", float: "number", bool: "boolean"}[type(wire)]


def test_every_scalar_has_a_mapping_and_codegen_refuses_an_unmapped_one(
    sdl_schema: GraphQLSchema,
) -> None:
    config = CODEGEN["generates"]["generated/operations.ts"]["config"]
    assert config["strictScalars"] is True
    scalars = {
        name for name, named in sdl_schema.type_map.items() if isinstance(named, GraphQLScalarType)
    }
    assert scalars - {"String", "Int", "Float", "Boolean"} == set(config["scalars"]), (
        "map every scalar of schema.graphql but the four TypeScript has, in codegen.json"
    )


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        (BIGINT_SCALAR, 2**52),
        (DATETIME_SCALAR, "2026-11-05T10:00:00+00:00"),
        (DATE_SCALAR, "2026-11-05"),
    ],
    ids=lambda param: getattr(param, "name", "value"),
)
def test_the_output_mapping_is_the_type_the_server_sends(scalar: Any, value: Any) -> None:
    """What graph/scalars.py serializes, as JSON, is what codegen.json says a client reads."""
    sent = scalar.serialize(scalar.parse_value(value))
    assert _typescript_type_of(sent) == _mapping(scalar.name)["output"]


def test_the_bigint_input_mapping_is_what_the_server_reads() -> None:
    assert BIGINT_SCALAR.parse_value is not None
    for sent in (2**52, str(2**52)):
        assert BIGINT_SCALAR.parse_value(sent) == 2**52
    assert set(_mapping("BigInt")["input"].split(" | ")) == {"number", "string"}


def _node() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are required under CI=true for the typed clients")
        pytest.skip("node or npm is not installed")
    return node, npm


async def _run(*command: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=TYPESCRIPT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def _codegen_and_tsc(out: Path, scalars: dict[str, Any] | None = None) -> tuple[int, str]:
    """codegen.json's generation (with `scalars` in place of its mappings, if given) into
    `out`, then `tsc --noEmit` over it and check.ts, copied beside it; the first failure."""
    node, npm = _node()
    if not (TYPESCRIPT / "node_modules" / "@graphql-codegen" / "cli").is_dir():
        status, output = await _run(npm, "ci", "--no-audit", "--no-fund")
        assert status == 0, output
    target = CODEGEN["generates"]["generated/operations.ts"]
    config = {**target["config"], **({"scalars": scalars} if scalars is not None else {})}
    codegen = {
        "overwrite": True,
        "schema": str(ROOT / "schema.graphql"),
        "documents": str(OPERATIONS / "*.graphql"),
        "generates": {str(out / "generated" / "operations.ts"): {**target, "config": config}},
    }
    (out / "codegen.json").write_text(json.dumps(codegen), encoding="utf-8")
    shutil.copy(TYPESCRIPT / "check.ts", out / "check.ts")
    shutil.copy(TYPESCRIPT / "tsconfig.json", out / "tsconfig.json")
    bin_dir = TYPESCRIPT / "node_modules" / ".bin"
    status, output = await _run(
        node, str(bin_dir / "graphql-codegen"), "--config", str(out / "codegen.json")
    )
    if status != 0:
        return status, output
    return await _run(node, str(bin_dir / "tsc"), "--noEmit", "-p", str(out))


async def test_the_generated_client_compiles(tmp_path: Path) -> None:
    status, output = await _codegen_and_tsc(tmp_path)
    assert status == 0, output
    generated = (tmp_path / "generated" / "operations.ts").read_text(encoding="utf-8")
    for name in ("SendGiftMutationVariables", "WalletQuery", "PayoutStatusChangedSubscription"):
        assert f"export type {name} =" in generated


async def test_tsc_fails_when_a_mapping_does_not_match_the_wire_form(tmp_path: Path) -> None:
    """check.ts pins the mappings: BigInt read as a string does not compile."""
    scalars = {**CODEGEN["generates"]["generated/operations.ts"]["config"]["scalars"]}
    scalars["BigInt"] = {"input": "number | string", "output": "string"}
    status, output = await _codegen_and_tsc(tmp_path, scalars)
    assert status != 0
    assert "check.ts" in output, output
    assert "error TS2344" in output, output
