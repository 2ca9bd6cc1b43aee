"""The npm package graphql-http's `auditServer` (in `.ci/graphql-http-audit/`) against the real
server on loopback: every MUST and every SHOULD of the GraphQL over HTTP spec passes."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

AUDIT = Path(__file__).resolve().parent.parent / ".ci" / "graphql-http-audit"


def _node() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are required under CI=true for the graphql-http audit")
        pytest.skip("node or npm is not installed")
    return node, npm


async def _run(*command: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=AUDIT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_the_graphql_over_http_audit_passes_every_must_and_should(
    api: TestClient[Any, Any],
) -> None:
    node, npm = _node()
    if not (AUDIT / "node_modules" / "graphql-http").is_dir():
        status, output = await _run(npm, "ci", "--no-audit", "--no-fund")
        assert status == 0, output
    status, output = await _run(node, "audit.mjs", str(api.make_url("/graphql")))
    assert status == 0, output
    assert "FAIL" not in output
