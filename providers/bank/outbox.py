"""The bank outbox: payouts queued into batches, each batch written once into a folder as a bank
file (a temp name, then a rename), and an append-only manifest that remembers it all.

One folder per rail (`<outbox>/sepa`, `<outbox>/ach`) holds the bank files and `manifest.jsonl`.
The manifest records every queued payout, every batch closed and written, and every bank status
read back; it is the outbox's whole state, re-read by every process before it acts, under an
exclusive file lock. A payout id is queued once: asking again returns the first entry. A batch
file is rendered from the manifest alone (its time is recorded before it is written), so a
flush interrupted at any point and run again writes the same file, once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kernel.clock import utcnow
from providers.base import PayoutState, StatusUpdate

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
LOCK = ".lock"
RAIL_SUFFIXES = {"sepa": ".xml", "ach": ".ach"}


class OutboxError(Exception):
    """The outbox cannot do what was asked (a corrupt manifest, a conflicting payout)."""


class UncertainWrite(OutboxError):
    """Writing the manifest failed part-way: the entry may or may not have been recorded."""


class PayoutConflict(OutboxError):
    """A payout id already queued with different money or a different account."""

    def __init__(self, existing: QueuedEntry) -> None:
        self.existing = existing
        super().__init__(
            f"payout {existing.payout_id} is already queued as {existing.reference} "
            "with another amount or account"
        )


class DuplicateKey(OutboxError):
    """Two payouts would carry the same bank-visible id (EndToEndId or trace number)."""


@dataclass(frozen=True)
class Slot:
    """Where a new entry goes: its batch, its place in the batch, and its sequence number over
    every entry the outbox ever queued (from 1)."""

    batch_id: str
    batch_number: int
    file_name: str
    position: int
    sequence: int


@dataclass(frozen=True)
class EntryDraft:
    """What a rail makes of an instruction once it knows the slot."""

    key: str
    """The id the bank echoes back: an EndToEndId, a trace number."""
    reference: str
    """The provider reference returned to the pipeline."""
    fields: Mapping[str, str]
    """What the rail needs to render the entry later (names, accounts)."""


@dataclass(frozen=True)
class QueueRequest:
    payout_id: str
    amount_minor: int
    fingerprint: str
    """A digest of the money and the account: the same payout id must always carry the same."""
    draft: Callable[[Slot], EntryDraft]


@dataclass(frozen=True)
class QueuedEntry:
    payout_id: str
    amount_minor: int
    fingerprint: str
    key: str
    reference: str
    fields: Mapping[str, str]
    slot: Slot
    queued_at: datetime


@dataclass(frozen=True)
class BatchToWrite:
    batch_id: str
    batch_number: int
    file_name: str
    written_at: datetime
    entries: tuple[QueuedEntry, ...]


@dataclass(frozen=True)
class RenderedFile:
    content: bytes
    details: Mapping[str, str] = field(default_factory=dict)
    """Facts about the file worth keeping (an ACH effective date, a pain.001 schema)."""


Renderer = Callable[[BatchToWrite], RenderedFile]


@dataclass(frozen=True)
class WrittenBatch:
    batch_id: str
    batch_number: int
    file_name: str
    path: Path
    count: int
    total_minor: int
    written_at: datetime
    sha256: str
    details: Mapping[str, str]


@dataclass(frozen=True)
class Queued:
    entry: QueuedEntry
    created: bool
    """False when the payout was already queued and this is the first entry again."""
    written: WrittenBatch | None = None
    """The batch this call closed because it reached the batch size, if any."""


@dataclass
class _Batch:
    batch_id: str
    batch_number: int
    file_name: str
    entries: list[QueuedEntry] = field(default_factory=list)
    written_at: datetime | None = None
    """Set once the batch is closed: no entry joins it after that."""
    written: WrittenBatch | None = None

    @property
    def total_minor(self) -> int:
        return sum(e.amount_minor for e in self.entries)


class Outbox:
    """One rail's outbox folder. Safe to share between threads and processes; every method
    blocks on file IO (call it from a thread in async code)."""

    def __init__(
        self,
        root: Path,
        rail: str,
        *,
        batch_size: int = 1000,
        max_total_minor: int | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if rail not in RAIL_SUFFIXES:
            raise ValueError(f"unknown rail {rail!r}; expected one of {sorted(RAIL_SUFFIXES)}")
        if batch_size < 1:
            raise ValueError("the batch size must be at least 1")
        self.rail = rail
        self.folder = Path(root) / rail
        self.batch_size = batch_size
        self.max_total_minor = max_total_minor
        self._clock = clock
        self._thread_lock = threading.Lock()
        self._offset = 0
        self._entries: dict[str, QueuedEntry] = {}
        self._by_key: dict[str, QueuedEntry] = {}
        self._batches: dict[str, _Batch] = {}
        self._statuses: dict[str, StatusUpdate] = {}
        self._statuses_by_payout: dict[str, list[StatusUpdate]] = {}
        self._open_batch: _Batch | None = None
        self._last_batch_number = 0
        self._last_sequence = 0

    # --- reading ---------------------------------------------------------------------------------

    def entry(self, payout_id: str) -> QueuedEntry | None:
        with self._locked():
            return self._entries.get(payout_id)

    def entry_by_key(self, key: str) -> QueuedEntry | None:
        with self._locked():
            return self._by_key.get(key)

    def entries(self) -> list[QueuedEntry]:
        """Every entry the outbox ever queued, in the order they were queued."""
        with self._locked():
            return list(self._entries.values())

    def entries_of(self, batch_id: str) -> list[QueuedEntry]:
        with self._locked():
            batch = self._batches.get(batch_id)
            return list(batch.entries) if batch else []

    def written(self, batch_id: str) -> WrittenBatch | None:
        with self._locked():
            batch = self._batches.get(batch_id)
            return batch.written if batch else None

    def statuses(self, payout_id: str) -> list[StatusUpdate]:
        """The bank statuses recorded for a payout, in the order they were recorded."""
        with self._locked():
            return list(self._statuses_by_payout.get(payout_id, ()))

    def open_batch(self) -> list[QueuedEntry]:
        """The entries waiting for the next flush."""
        with self._locked():
            batch = self._open()
            return list(batch.entries) if batch else []

    # --- writing ---------------------------------------------------------------------------------

    def queue(self, request: QueueRequest, render: Renderer) -> Queued:
        """Queue a payout into the open batch, once. Closes and writes the batch when it reaches
        the batch size (a failure to write it then is logged; the entry stays queued and the next
        flush retries)."""
        with self._locked():
            existing = self._entries.get(request.payout_id)
            if existing is not None:
                if existing.fingerprint != request.fingerprint:
                    raise PayoutConflict(existing)
                return Queued(existing, created=False)
            batch = self._open()
            if batch is not None and (
                len(batch.entries) >= self.batch_size
                or self._over_total(batch.total_minor + request.amount_minor)
            ):
                self._close(batch, render)
                batch = None
            now = self._clock()
            if batch is None:
                number = self._last_batch_number + 1
                batch_id = f"{self.rail}-{now:%Y%m%d}-{number:06d}"
                batch = _Batch(batch_id, number, batch_id + RAIL_SUFFIXES[self.rail])
            slot = Slot(
                batch_id=batch.batch_id,
                batch_number=batch.batch_number,
                file_name=batch.file_name,
                position=len(batch.entries),
                sequence=self._last_sequence + 1,
            )
            draft = request.draft(slot)
            if draft.key in self._by_key:
                raise DuplicateKey(
                    f"{draft.key!r} already names payout {self._by_key[draft.key].payout_id}"
                )
            record = {
                "t": "queued",
                "payout_id": request.payout_id,
                "amount_minor": request.amount_minor,
                "fingerprint": request.fingerprint,
                "key": draft.key,
                "reference": draft.reference,
                "fields": dict(draft.fields),
                "batch_id": slot.batch_id,
                "batch_number": slot.batch_number,
                "file_name": slot.file_name,
                "position": slot.position,
                "sequence": slot.sequence,
                "queued_at": now.isoformat(),
            }
            self._append(record)
            entry = self._entries[request.payout_id]
            written = None
            open_batch = self._open()
            if open_batch is not None and len(open_batch.entries) >= self.batch_size:
                try:
                    written = self._close(open_batch, render)
                except Exception:  # the entry is safe in the manifest; the next flush retries
                    log.exception(
                        "%s: could not write full batch %s", self.rail, open_batch.batch_id
                    )
            return Queued(entry, created=True, written=written)

    def flush(self, render: Renderer) -> list[WrittenBatch]:
        """Close the open batch and write every closed batch whose file is not written yet.
        Returns the batches written by this call (none when nothing was waiting)."""
        with self._locked():
            written = self._finish_closed(render)
            batch = self._open()
            if batch is not None and batch.entries:
                written.append(self._close(batch, render))
            return written

    def record_statuses(self, updates: Sequence[StatusUpdate]) -> list[StatusUpdate]:
        """Remember bank statuses (for lookups); an event id already recorded is skipped.
        Returns the updates that were new."""
        with self._locked():
            new: list[StatusUpdate] = []
            for update in updates:
                if update.event_id in self._statuses:
                    continue
                self._append(_status_record(update))
                new.append(update)
            return new

    # --- internals -------------------------------------------------------------------------------

    def _over_total(self, total: int) -> bool:
        return self.max_total_minor is not None and total > self.max_total_minor

    def _open(self) -> _Batch | None:
        return self._open_batch

    def _close(self, batch: _Batch, render: Renderer) -> WrittenBatch:
        """Record the batch's time, then write its file and record that."""
        job = BatchToWrite(
            batch.batch_id,
            batch.batch_number,
            batch.file_name,
            self._clock(),
            tuple(batch.entries),
        )
        rendered = render(job)  # before anything is recorded: a batch that cannot render stays open
        self._append(
            {"t": "closing", "batch_id": batch.batch_id, "written_at": job.written_at.isoformat()}
        )
        return self._write(batch, render, rendered)

    def _finish_closed(self, render: Renderer) -> list[WrittenBatch]:
        """Batches closed by a process that stopped before writing or recording the file."""
        return [
            self._write(batch, render, None)
            for batch in list(self._batches.values())
            if batch.written_at is not None and batch.written is None
        ]

    def _write(
        self, batch: _Batch, render: Renderer, rendered: RenderedFile | None
    ) -> WrittenBatch:
        assert batch.written_at is not None
        if rendered is None:
            rendered = render(
                BatchToWrite(
                    batch.batch_id,
                    batch.batch_number,
                    batch.file_name,
                    batch.written_at,
                    tuple(batch.entries),
                )
            )
        target = self.folder / batch.file_name
        content = rendered.content
        if target.exists():
            # Written by a flush that stopped before recording it: rendering is reproducible, so
            # it must hold the same bytes. Anything else is not ours to keep or to overwrite.
            if target.read_bytes() != content:
                raise OutboxError(
                    f"{target} exists and differs from batch {batch.batch_id}; move it away"
                )
        else:
            _write_new_file(target, content)
        self._append(
            {
                "t": "written",
                "batch_id": batch.batch_id,
                "count": len(batch.entries),
                "total_minor": batch.total_minor,
                "sha256": hashlib.sha256(content).hexdigest(),
                "details": dict(rendered.details),
            }
        )
        assert batch.written is not None
        log.info(
            "%s: wrote %s (%d payouts, %d minor units)",
            self.rail,
            target,
            batch.written.count,
            batch.written.total_minor,
        )
        return batch.written

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / LOCK, "a+b") as lock:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                try:
                    self._refresh()
                    yield
                finally:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _refresh(self) -> None:
        """Apply what other processes appended since we last looked. A last line without its
        newline is a write that died half-way (we hold the lock, nobody is writing): cut it."""
        path = self.folder / MANIFEST
        try:
            with open(path, "rb") as manifest:
                manifest.seek(self._offset)
                fresh = manifest.read()
        except FileNotFoundError:
            return
        complete, newline, torn = fresh.rpartition(b"\n")
        if torn:
            log.warning("%s: dropping a torn manifest line (%d bytes)", self.rail, len(torn))
            os.truncate(path, self._offset + len(complete) + len(newline))
        for number, line in enumerate((complete + newline).splitlines(), start=1):
            try:
                self._apply(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise OutboxError(
                    f"{path}: unreadable record {number} after byte {self._offset}: {exc}"
                ) from exc
        self._offset += len(complete) + len(newline)

    def _append(self, record: dict[str, Any]) -> None:
        """Append one record and make it durable. Raises `UncertainWrite` when writing failed
        after the file was opened (the line may be there or not); an error opening the file
        means nothing was written and is raised as it is."""
        line = json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        path = self.folder / MANIFEST
        with open(path, "ab") as manifest:
            offset = manifest.tell()
            if offset != self._offset:  # impossible under the lock unless someone edited it
                raise OutboxError(f"{path} changed under the lock ({offset} != {self._offset})")
            try:
                manifest.write(line)
                manifest.flush()
                os.fsync(manifest.fileno())
            except OSError as exc:
                raise UncertainWrite(f"writing {path} failed part-way: {exc}") from exc
        self._apply(record)
        self._offset += len(line)

    def _apply(self, record: Mapping[str, Any]) -> None:
        kind = record["t"]
        if kind == "queued":
            batch = self._batches.get(record["batch_id"])
            if batch is None:
                batch = _Batch(record["batch_id"], record["batch_number"], record["file_name"])
                self._batches[batch.batch_id] = batch
                self._open_batch = batch
            slot = Slot(
                batch_id=batch.batch_id,
                batch_number=batch.batch_number,
                file_name=batch.file_name,
                position=record["position"],
                sequence=record["sequence"],
            )
            entry = QueuedEntry(
                payout_id=record["payout_id"],
                amount_minor=record["amount_minor"],
                fingerprint=record["fingerprint"],
                key=record["key"],
                reference=record["reference"],
                fields=dict(record["fields"]),
                slot=slot,
                queued_at=datetime.fromisoformat(record["queued_at"]),
            )
            batch.entries.append(entry)
            self._entries[entry.payout_id] = entry
            self._by_key[entry.key] = entry
            self._last_batch_number = max(self._last_batch_number, batch.batch_number)
            self._last_sequence = max(self._last_sequence, slot.sequence)
        elif kind == "closing":
            batch = self._batches[record["batch_id"]]
            batch.written_at = datetime.fromisoformat(record["written_at"])
            if self._open_batch is batch:
                self._open_batch = None
        elif kind == "written":
            batch = self._batches[record["batch_id"]]
            assert batch.written_at is not None
            batch.written = WrittenBatch(
                batch_id=batch.batch_id,
                batch_number=batch.batch_number,
                file_name=batch.file_name,
                path=self.folder / batch.file_name,
                count=record["count"],
                total_minor=record["total_minor"],
                written_at=batch.written_at,
                sha256=record["sha256"],
                details=dict(record["details"]),
            )
        elif kind == "status":
            update = StatusUpdate(
                event_id=record["event_id"],
                state=PayoutState(record["state"]),
                occurred_at=datetime.fromisoformat(record["occurred_at"]),
                payout_id=record["payout_id"],
                provider_reference=record["provider_reference"],
                raw_type=record["raw_type"],
                failure_code=record["failure_code"],
                failure_message=record["failure_message"],
            )
            self._statuses[update.event_id] = update
            if update.payout_id is not None:
                self._statuses_by_payout.setdefault(update.payout_id, []).append(update)
        else:
            raise ValueError(f"unknown record type {kind!r}")


def _status_record(update: StatusUpdate) -> dict[str, Any]:
    return {
        "t": "status",
        "event_id": update.event_id,
        "state": update.state.value,
        "occurred_at": update.occurred_at.isoformat(),
        "payout_id": update.payout_id,
        "provider_reference": update.provider_reference,
        "raw_type": update.raw_type,
        "failure_code": update.failure_code,
        "failure_message": update.failure_message,
    }


def _write_new_file(target: Path, content: bytes) -> None:
    """Write under a temp name, make it durable, then link it into place: the file appears whole
    or not at all, and an existing file is never replaced."""
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(temp, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    try:
        try:
            os.link(temp, target)  # fails if the target exists, where a rename would replace it
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links; we hold the lock and checked
            if target.exists():
                raise FileExistsError(target) from None
            os.rename(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
