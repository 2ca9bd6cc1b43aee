"""`diamonds serve` in a process of its own for tests that need a second server or the server's
own memory: started on a free port, awaited on /healthz, its log in a file, stopped after.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 30


@asynccontextmanager
async def served_process(
    arguments: Sequence[str], env: Mapping[str, str], log_path: Path
) -> AsyncIterator[tuple[str, subprocess.Popen[bytes]]]:
    """`diamonds serve --port P <arguments>` with `env`: its URL and process once /healthz
    answers 200. Its log goes to `log_path` (a pipe would fill with access lines and block the
    server); the test fails with the log's end when the server does not start."""
    port = unused_port()
    command = [sys.executable, "-m", "diamonds.cli", "serve", "--port", str(port), *arguments]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220, S603 - our own command, started once
            command, cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=log
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_until_healthy(url, process, log_path)
            yield url, process
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                error = await asyncio.to_thread(log_path.read_text, errors="replace")
                pytest.fail(f"the server did not start:\n{error[-3000:]}")
            await asyncio.sleep(0.1)
