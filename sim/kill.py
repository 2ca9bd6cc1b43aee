"""A worker killed for real: its round runs in a child process (`python -m sim.worker`), and the
simulator sends it SIGKILL while the fake provider holds its n-th payout request, n from the seed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from diamonds_fakes.faults import Fault

CHILD_SECONDS = 120.0
"""How long a child worker may take to reach the kill point (or finish its round): its start
(imports, connections) takes a second or two, more on a busy machine."""


@dataclass
class KillPoint:
    """The `nth` payout request the providers see, over both of them, is where the worker dies."""

    nth: int
    after_effect: bool
    seen: int = 0
    written: Callable[[], int] | None = None
    """At the n-th request: how many payout requests that provider has taken, and before it."""
    written_before: int = 0

    def reached(self) -> bool:
        """The n-th request is in (and, if it should take effect first, it has)."""
        if self.written is None:
            return False
        return not self.after_effect or self.written() > self.written_before


@dataclass
class NthRequest(Fault):
    """A fault that lets the payout requests before the kill point's n-th through, and hits it."""

    point: KillPoint = field(default_factory=lambda: KillPoint(1, True), compare=False)
    written: Callable[[], int] = field(default=lambda: 0, compare=False)

    def matches(self, method: str, path: str) -> bool:
        if not super().matches(method, path):
            return False
        self.point.seen += 1
        if self.point.seen != self.point.nth:
            return False
        self.point.written, self.point.written_before = self.written, self.written()
        return True


@dataclass(frozen=True)
class Ended:
    """How a child worker's round ended: killed at the point, or done before it."""

    killed: bool
    handled: str
    """What the child printed (how many payouts it handled), when it finished on its own."""


async def run_until_killed(point: KillPoint, config: dict[str, Any]) -> Ended:
    """Start a child worker for one round and SIGKILL it once `point` is reached."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sim.worker",
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CHILD_SECONDS
    while child.returncode is None and not point.reached():
        if loop.time() > deadline:
            child.kill()
            await child.communicate()
            raise RuntimeError(f"the child worker neither reached request {point.nth} nor ended")
        await asyncio.sleep(0.01)
    killed = child.returncode is None
    if killed:
        child.send_signal(signal.SIGKILL)
    out, err = await child.communicate()
    if killed:
        assert child.returncode == -signal.SIGKILL, child.returncode
        return Ended(True, "")
    if child.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"the child worker failed ({child.returncode}): {' | '.join(tail)}")
    return Ended(False, out.decode().strip())
