"""Sanctions screening at work: loading a list version (which re-screens everyone), screening one
person's legal names when they change, and FINANCE's decisions on possible matches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncConnection

from compliance import audit
from compliance.audit import Action
from compliance.gate.rules import SanctionsState
from compliance.identity import store as identity_store
from compliance.inputs import note as clean_note
from compliance.sanctions import store as sanctions_store
from compliance.sanctions.rules import SdnList
from compliance.service import Compliance
from compliance.tables import identities, screenings, tax_forms
from compliance.tax import store as tax_store
from kernel.actor import Actor
from kernel.audit import write_audit_entry
from kernel.errors import DomainError, NotFound
from settings.service import Settings

log = logging.getLogger(__name__)

RESCREEN_BATCH = 200


async def names_of(conn: AsyncConnection, user_id: int) -> tuple[list[str], str | None]:
    """The legal names to screen (identity and tax form, without repeats) and the country."""
    record = await identity_store.load(conn, user_id)
    form = await tax_store.current(conn, user_id)
    names: list[str] = []
    for name in (record.identity.legal_name, form.form.legal_name if form else None):
        if name and name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    country = record.identity.country or (form.form.country if form else None)
    return names, country


async def screen_user(
    conn: AsyncConnection, user_id: int, settings: Settings, *, actor: str
) -> SanctionsState | None:
    """Screen the person against the list in force, inside the caller's write transaction.
    None when there is no list or no name to screen yet. Names and country already screened
    against this list are not screened again."""
    version = await sanctions_store.current_list(conn)
    if version is None:
        return None
    names, country = await names_of(conn, user_id)
    if not names:
        return None
    if await sanctions_store.latest_screening(conn, user_id) == (version.id, names, country):
        return await sanctions_store.state_of(conn, user_id)
    index = await sanctions_store.screener(conn, version)
    matches = index.screen(names, country, settings.compliance.sanctions_threshold)
    screening_id, hits = await sanctions_store.record_screening(
        conn,
        user_id=user_id,
        list_id=version.id,
        names=names,
        country=country,
        matches=matches,
        decided_by=actor,
    )
    await write_audit_entry(
        conn,
        actor,
        Action.SANCTIONS_SCREENED,
        audit.user_target(user_id),
        {
            "screening_id": screening_id,
            "list_id": version.id,
            "result": "POSSIBLE_MATCH" if hits else "CLEAR",
            "hits": [
                {"id": h.id, "entry": h.entry_uid, "score": h.score, "status": h.status}
                for h in hits
            ],
        },
    )
    return await sanctions_store.state_of(conn, user_id)


@dataclass(frozen=True)
class LoadResult:
    version: sanctions_store.ListVersion
    created: bool
    """False when the same files were loaded before (nothing changed)."""
    screened: int
    possible_matches: int


async def load_sanctions_list(
    svc: Compliance, loaded: SdnList, *, source: str, actor: str
) -> LoadResult:
    """Store a new list version (unless these very files were loaded before) and re-screen
    everyone with a legal name against it."""
    async with svc.db.write() as conn:
        existing = await sanctions_store.list_by_digest(conn, loaded.digest)
        if existing is None:
            list_id = await sanctions_store.insert_list(
                conn, loaded, source=source, loaded_by=actor
            )
            await write_audit_entry(
                conn,
                actor,
                Action.SANCTIONS_LIST_LOADED,
                f"sanctions_list:{list_id}",
                {"source": source, "digest": loaded.digest, "entries": len(loaded.entries)},
            )
        version = await sanctions_store.current_list(conn)
        assert version is not None
    screened, matched = await rescreen_all(svc, actor=actor)
    return LoadResult(
        version=version, created=existing is None, screened=screened, possible_matches=matched
    )


async def rescreen_all(svc: Compliance, *, actor: str) -> tuple[int, int]:
    """Screen, in batches, everyone with a legal name who was not yet screened against the list
    in force; resumable. Returns (people screened, people with an open possible match)."""
    screened = matched = 0
    after = 0
    while True:
        async with svc.db.write() as conn:
            version = await sanctions_store.current_list(conn)
            if version is None:
                return 0, 0
            named = union(
                select(identities.c.user_id.label("user_id")).where(
                    identities.c.legal_name.is_not(None)
                ),
                select(tax_forms.c.user_id.label("user_id")).where(
                    tax_forms.c.superseded_at.is_(None)
                ),
            ).subquery()
            done = select(screenings.c.user_id).where(screenings.c.list_id == version.id)
            batch = [
                int(i)
                for i in await conn.scalars(
                    select(named.c.user_id)
                    .where(named.c.user_id > after, named.c.user_id.not_in(done))
                    .order_by(named.c.user_id)
                    .limit(RESCREEN_BATCH)
                )
            ]
            for user_id in batch:
                state = await screen_user(conn, user_id, svc.settings, actor=actor)
                screened += state is not None
                matched += state is SanctionsState.POSSIBLE_MATCH
        if len(batch) < RESCREEN_BATCH:
            log.info("sanctions re-screening: %d screened, %d possible matches", screened, matched)
            return screened, matched
        after = batch[-1]


async def decide_hit(
    svc: Compliance, reviewer: Actor, *, hit_id: int, confirm: bool, note: str
) -> sanctions_store.Hit:
    """FINANCE clears (a false positive) or confirms an open hit, with a note. Raises
    `DomainError`: INVALID_NOTE, HIT_NOT_FOUND, SELF_REVIEW, HIT_NOT_OPEN."""
    why = clean_note(note)
    async with svc.db.write() as conn:
        hit = await sanctions_store.hit_by_id(conn, hit_id, lock=True)
        if hit is None:
            raise NotFound("HIT_NOT_FOUND", "no sanctions hit has this id", "hitId")
        if hit.user_id == reviewer.id:
            raise DomainError("SELF_REVIEW", "nobody may decide on their own screening", "hitId")
        status = "CONFIRMED" if confirm else "CLEARED"
        if not await sanctions_store.decide_hit(
            conn, hit_id, status, actor=reviewer.subject, note=why
        ):
            raise DomainError(
                "HIT_NOT_OPEN", f"this hit was already decided ({hit.status})", "hitId"
            )
        await write_audit_entry(
            conn,
            reviewer.subject,
            Action.SANCTIONS_HIT_DECIDED,
            audit.user_target(hit.user_id),
            {"hit_id": hit_id, "entry": hit.entry_uid, "decision": status, "note": why},
        )
        decided = await sanctions_store.hit_by_id(conn, hit_id)
    assert decided is not None
    return decided
