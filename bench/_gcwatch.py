"""The garbage collector's pauses in the benchmark's server processes: each records its collections
in a small memory-mapped file (`BENCH_GC_DIR`), which the load generator reads like /proc.

In a server process, `install()` adds a `gc.callbacks` hook timing every collection: per
generation a count and the total pause, and for full (generation 2) collections a ring of the
last `RING` pauses with their `time.monotonic()` (one clock for every process), so the pauses of a
measured window, and the longest, can be told apart from the warm-up's. Writing into the map is a
few stores, no system call.
"""

from __future__ import annotations

import gc
import mmap
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = "BENCH_GC_DIR"
RING = 1_024
_HEAD = struct.Struct("<9q")  # count, total pause and its CPU time (ns), generations 0, 1, 2
_ENTRY = struct.Struct("<qq")  # (monotonic ns at the end, pause ns) of a full collection
_RING_AT = _HEAD.size + 8  # after the head, the number of full collections ever written
_SIZE = _RING_AT + RING * _ENTRY.size

_state: dict[str, Any] = {}


def install() -> None:
    """Time this process's collections into `$BENCH_GC_DIR/<pid>.gc` (nothing when unset)."""
    folder = os.environ.get(ENV)
    if not folder or _state:
        return
    path = Path(folder) / f"{os.getpid()}.gc"
    with path.open("wb") as file:
        file.write(b"\0" * _SIZE)
    with path.open("r+b") as file:
        memory = mmap.mmap(file.fileno(), _SIZE)
    head = [0] * 9  # per generation: count, pause ns, CPU ns
    started = [0, 0]
    full = [0]

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0], started[1] = time.perf_counter_ns(), time.thread_time_ns()
            return
        pause = time.perf_counter_ns() - started[0]
        generation = info["generation"]
        head[3 * generation] += 1
        head[3 * generation + 1] += pause
        head[3 * generation + 2] += time.thread_time_ns() - started[1]
        _HEAD.pack_into(memory, 0, *head)
        if generation == 2:
            slot = full[0] % RING
            _ENTRY.pack_into(memory, _RING_AT + slot * _ENTRY.size, time.monotonic_ns(), pause)
            full[0] += 1
            struct.pack_into("<q", memory, _HEAD.size, full[0])

    _state["memory"] = memory
    gc.callbacks.append(on_collection)


@dataclass(frozen=True)
class GcReading:
    """Every server process's collections so far, summed; the full ones' (end ns, pause ns)."""

    counts: tuple[int, int, int]
    pause_ns: tuple[int, int, int]
    """Wall-clock time (on a busy machine, longer than the collector's CPU time)."""
    cpu_ns: tuple[int, int, int]
    full: tuple[tuple[int, int], ...]


def read(folder: str | None) -> GcReading | None:
    """What the server processes of `folder` have recorded so far."""
    if not folder:
        return None
    sums = [0] * 9
    full: list[tuple[int, int]] = []
    for path in Path(folder).glob("*.gc"):
        data = path.read_bytes()
        if len(data) < _SIZE:
            continue
        for index, value in enumerate(_HEAD.unpack_from(data, 0)):
            sums[index] += value
        (written,) = struct.unpack_from("<q", data, _HEAD.size)
        for slot in range(min(written, RING)):
            full.append(_ENTRY.unpack_from(data, _RING_AT + slot * _ENTRY.size))
    return GcReading(
        (sums[0], sums[3], sums[6]),
        (sums[1], sums[4], sums[7]),
        (sums[2], sums[5], sums[8]),
        tuple(full),
    )


def window(before: GcReading, after: GcReading, since_ns: int, until_ns: int) -> dict[str, Any]:
    """The collections between two readings: per generation how many, their pause and its CPU
    time in ms, and the full collections' longest pause (those ending in [since_ns, until_ns])."""
    full = [pause for end, pause in after.full if since_ns <= end <= until_ns]

    def ms(later: tuple[int, int, int], earlier: tuple[int, int, int]) -> list[float]:
        return [round((a - b) / 1e6, 1) for a, b in zip(later, earlier, strict=True)]

    return {
        "collections": [a - b for a, b in zip(after.counts, before.counts, strict=True)],
        "pause_ms": ms(after.pause_ns, before.pause_ns),
        "cpu_ms": ms(after.cpu_ns, before.cpu_ns),
        "full_max_ms": round(max(full) / 1e6, 1) if full else 0.0,
    }
