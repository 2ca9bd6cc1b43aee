"""The sanctions lists and screenings: list versions with their entries, each person's
screenings and hits, the sanctions state the gate reads, FINANCE's decisions on hits, and the
carrying of an earlier decision to the same hit on a re-screening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.gate.rules import SanctionsState
from compliance.sanctions.rules import Match, Screener, SdnEntry, SdnList
from compliance.tables import sanctions_entries, sanctions_hits, sanctions_lists, screenings
from kernel.tables import count_where

BATCH = 500


@dataclass(frozen=True)
class ListVersion:
    id: int
    source: str
    digest: str
    entries: int
    loaded_by: str
    loaded_at: datetime


@dataclass(frozen=True)
class Hit:
    id: int
    screening_id: int
    user_id: int
    list_id: int
    entry_uid: int
    entry_name: str
    matched_name: str
    screened_name: str
    score: int
    country_match: bool | None
    status: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime


def _version(row: RowMapping) -> ListVersion:
    return ListVersion(
        id=int(row["id"]),
        source=row["source"],
        digest=row["digest"],
        entries=int(row["entries"]),
        loaded_by=row["loaded_by"],
        loaded_at=row["loaded_at"],
    )


def _hit(row: RowMapping) -> Hit:
    return Hit(
        id=int(row["id"]),
        screening_id=int(row["screening_id"]),
        user_id=int(row["user_id"]),
        list_id=int(row["list_id"]),
        entry_uid=int(row["entry_uid"]),
        entry_name=row["entry_name"],
        matched_name=row["matched_name"],
        screened_name=row["screened_name"],
        score=int(row["score"]),
        country_match=row["country_match"],
        status=row["status"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        note=row["note"],
        created_at=row["created_at"],
    )


async def current_list(conn: AsyncConnection) -> ListVersion | None:
    row = (
        await conn.execute(select(sanctions_lists).order_by(sanctions_lists.c.id.desc()).limit(1))
    ).first()
    return None if row is None else _version(row._mapping)


async def list_by_digest(conn: AsyncConnection, digest: str) -> ListVersion | None:
    row = (
        await conn.execute(select(sanctions_lists).where(sanctions_lists.c.digest == digest))
    ).first()
    return None if row is None else _version(row._mapping)


async def insert_list(
    conn: AsyncConnection, loaded: SdnList, *, source: str, loaded_by: str
) -> int:
    list_id = await conn.scalar(
        insert(sanctions_lists)
        .values(
            source=source[:200],
            digest=loaded.digest,
            entries=len(loaded.entries),
            loaded_by=loaded_by,
        )
        .returning(sanctions_lists.c.id)
    )
    assert list_id is not None
    rows = [
        {
            "list_id": int(list_id),
            "uid": e.uid,
            "name": e.name[:350],
            "kind": e.kind[:16],
            "programs": list(e.programs),
            "aliases": list(e.aliases),
            "countries": list(e.countries),
            "remarks": e.remarks,
        }
        for e in loaded.entries
    ]
    for start in range(0, len(rows), BATCH):
        await conn.execute(insert(sanctions_entries), rows[start : start + BATCH])
    return int(list_id)


async def entries(conn: AsyncConnection, list_id: int) -> list[SdnEntry]:
    rows = await conn.execute(
        select(sanctions_entries)
        .where(sanctions_entries.c.list_id == list_id)
        .order_by(sanctions_entries.c.uid)
    )
    return [
        SdnEntry(
            uid=int(r.uid),
            name=r.name,
            kind=r.kind,
            programs=tuple(r.programs),
            aliases=tuple(r.aliases),
            countries=tuple(r.countries),
            remarks=r.remarks,
        )
        for r in rows
    ]


_screeners: dict[tuple[int, str], Screener] = {}


async def screener(conn: AsyncConnection, version: ListVersion) -> Screener:
    """The name index of a list version, built once per process (a version never changes; the
    digest tells versions of different databases apart)."""
    key = (version.id, version.digest)
    found = _screeners.get(key)
    if found is None:
        found = Screener.of(await entries(conn, version.id))
        _screeners.clear()  # keep only the version in force
        _screeners[key] = found
    return found


async def record_screening(
    conn: AsyncConnection,
    *,
    user_id: int,
    list_id: int,
    names: list[str],
    country: str | None,
    matches: list[Match],
    decided_by: str,
) -> tuple[int, list[Hit]]:
    """Store a screening and its hits. A hit the same as one FINANCE already decided for this
    person (same entry, same matched name, same screened name) carries that decision over; the
    person's hits still OPEN from earlier screenings are SUPERSEDED by this one."""
    await conn.execute(
        update(sanctions_hits)
        .where(sanctions_hits.c.user_id == user_id, sanctions_hits.c.status == "OPEN")
        .values(status="SUPERSEDED", decided_by=decided_by, decided_at=func.now())
    )
    screening_id = await conn.scalar(
        insert(screenings)
        .values(
            user_id=user_id,
            list_id=list_id,
            names=names,
            country=country,
            result="POSSIBLE_MATCH" if matches else "CLEAR",
        )
        .returning(screenings.c.id)
    )
    assert screening_id is not None
    for match in matches:
        earlier = (
            await conn.execute(
                select(sanctions_hits.c.id, sanctions_hits.c.status)
                .where(
                    sanctions_hits.c.user_id == user_id,
                    sanctions_hits.c.entry_uid == match.uid,
                    sanctions_hits.c.matched_name == match.matched_name[:350],
                    sanctions_hits.c.screened_name == match.screened_name[:200],
                    sanctions_hits.c.status.in_(("CLEARED", "CONFIRMED")),
                )
                .order_by(sanctions_hits.c.id.desc())
                .limit(1)
            )
        ).first()
        carried = earlier is not None
        await conn.execute(
            insert(sanctions_hits).values(
                screening_id=int(screening_id),
                user_id=user_id,
                list_id=list_id,
                entry_uid=match.uid,
                entry_name=match.entry_name[:350],
                matched_name=match.matched_name[:350],
                screened_name=match.screened_name[:200],
                score=match.score,
                country_match=match.country_match,
                status=earlier.status if earlier is not None else "OPEN",
                decided_by=decided_by if carried else None,
                decided_at=func.now() if carried else None,
                note=f"carried over from hit {earlier.id}" if earlier is not None else None,
            )
        )
    return int(screening_id), await hits_of_screening(conn, int(screening_id))


async def hits_of_screening(conn: AsyncConnection, screening_id: int) -> list[Hit]:
    rows = await conn.execute(
        select(sanctions_hits)
        .where(sanctions_hits.c.screening_id == screening_id)
        .order_by(sanctions_hits.c.id)
    )
    return [_hit(r._mapping) for r in rows]


async def latest_screening(
    conn: AsyncConnection, user_id: int
) -> tuple[int, list[str], str | None] | None:
    """(list id, names, country) of the person's latest screening."""
    row = (
        await conn.execute(
            select(screenings.c.list_id, screenings.c.names, screenings.c.country)
            .where(screenings.c.user_id == user_id)
            .order_by(screenings.c.id.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (int(row.list_id), list(row.names), row.country)


async def state_of(conn: AsyncConnection, user_id: int) -> SanctionsState:
    """Where the person stands against the list in force."""
    newest = await current_list(conn)
    if newest is None:
        return SanctionsState.NO_LIST
    latest = (
        await conn.execute(
            select(screenings.c.id, screenings.c.list_id, screenings.c.result)
            .where(screenings.c.user_id == user_id)
            .order_by(screenings.c.id.desc())
            .limit(1)
        )
    ).first()
    if latest is None:
        return SanctionsState.NOT_SCREENED
    if int(latest.list_id) != newest.id:
        return SanctionsState.OUTDATED
    if latest.result == "CLEAR":
        return SanctionsState.CLEAR
    statuses = {h.status for h in await hits_of_screening(conn, int(latest.id))}
    if "CONFIRMED" in statuses:
        return SanctionsState.CONFIRMED_MATCH
    if "OPEN" in statuses:
        return SanctionsState.POSSIBLE_MATCH
    return SanctionsState.CLEAR


async def hit_by_id(conn: AsyncConnection, hit_id: int, *, lock: bool = False) -> Hit | None:
    query = select(sanctions_hits).where(sanctions_hits.c.id == hit_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return None if row is None else _hit(row._mapping)


async def decide_hit(
    conn: AsyncConnection, hit_id: int, status: str, *, actor: str, note: str
) -> bool:
    """Clear or confirm an OPEN hit; False when it was decided meanwhile."""
    result = await conn.execute(
        update(sanctions_hits)
        .where(sanctions_hits.c.id == hit_id, sanctions_hits.c.status == "OPEN")
        .values(status=status, decided_by=actor, decided_at=func.now(), note=note)
    )
    return result.rowcount == 1


def _hits_with(status: str | None) -> list[Any]:
    return [] if status is None else [sanctions_hits.c.status == status]


async def hits(
    conn: AsyncConnection, *, status: str | None, after: int | None, limit: int
) -> list[Hit]:
    """Hits by id, newest list first within the page order of ids."""
    query = (
        select(sanctions_hits).where(*_hits_with(status)).order_by(sanctions_hits.c.id).limit(limit)
    )
    if after is not None:
        query = query.where(sanctions_hits.c.id > after)
    return [_hit(r._mapping) for r in await conn.execute(query)]


async def count_hits(conn: AsyncConnection, *, status: str | None) -> int:
    """How many hits have `status` (any when None): every page of `hits`."""
    return await count_where(conn, sanctions_hits, _hits_with(status))


async def hits_of_user(conn: AsyncConnection, user_id: int) -> list[Hit]:
    rows = await conn.execute(
        select(sanctions_hits)
        .where(sanctions_hits.c.user_id == user_id)
        .order_by(sanctions_hits.c.id)
    )
    return [_hit(r._mapping) for r in rows]
