"""CPU time of the processes a benchmark runs on, read from /proc: the servers (one session),
PostgreSQL's backends, and the load generator itself, so figures can be given per request.

CPU per request is steadier than requests per second on a shared machine: it says what a request
costs, not how much of the machine the run happened to get.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    servers: float
    postgres: float
    client: float
    """Seconds of CPU (user + system) used so far."""

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(
            servers=self.servers - other.servers,
            postgres=self.postgres - other.postgres,
            client=self.client - other.client,
        )


def sample(server_session: int | None) -> CpuSample:
    """CPU used so far by the processes of `server_session`, by every process named `postgres`
    (backends that ended meanwhile are not counted), and by this process."""
    servers = postgres = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        rest = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(rest[11]) + int(rest[12])) / _TICKS
        if server_session is not None and int(rest[3]) == server_session:
            servers += seconds
        elif name == "postgres":
            postgres += seconds
    own = resource.getrusage(resource.RUSAGE_SELF)
    return CpuSample(servers=servers, postgres=postgres, client=own.ru_utime + own.ru_stime)
