"""Year-end reporting at work: the payments made in a year (each attempt of a payout that the
provider paid), who the creators are for tax purposes, and the report rows and CSV; audited.

Reads `payout_attempts` (payout_id, outcome, paid_at) joined to `payouts` (id, user_id, currency,
gross_minor, withholding_minor), and `users` (id, subject), by table name: compliance imports
nothing of the economy or payouts. A payment counts when its attempt is PAID and was paid within
the (UTC) year: a payout paid twice by its provider (two attempts) counts twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import FromClause, column, select, table
from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.audit import Action
from compliance.identity import store as identity_store
from compliance.reporting.rules import PaidPayout, ReportRow, Taxpayer, Thresholds, summarize
from compliance.service import Compliance
from compliance.tax import store as tax_store
from kernel.audit import write_audit_entry
from settings.service import Settings

_PAYOUTS = table(
    "payouts",
    column("id"),
    column("user_id"),
    column("currency"),
    column("gross_minor"),
    column("withholding_minor"),
)
_ATTEMPTS = table("payout_attempts", column("payout_id"), column("outcome"), column("paid_at"))
PAYMENTS = (
    select(
        _PAYOUTS.c.user_id,
        _ATTEMPTS.c.outcome.label("status"),
        _PAYOUTS.c.currency,
        _PAYOUTS.c.gross_minor,
        _PAYOUTS.c.withholding_minor,
        _ATTEMPTS.c.paid_at,
    )
    .select_from(_ATTEMPTS.join(_PAYOUTS, _PAYOUTS.c.id == _ATTEMPTS.c.payout_id))
    .subquery("payments")
)
"""One row per payment: the payouts pipeline's tables, as far as the report reads them."""
_USERS = table("users", column("id"), column("subject"))
"""The economy's users, as far as the report reads them (a creator's subject)."""
PAID = "PAID"


async def paid_payouts(
    conn: AsyncConnection, year: int, source: FromClause = PAYMENTS
) -> list[PaidPayout]:
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    c = source.c
    rows = await conn.execute(
        select(c.user_id, c.currency, c.gross_minor, c.withholding_minor, c.paid_at)
        .where(c.status == PAID, c.paid_at >= start, c.paid_at < end)
        .order_by(c.user_id)
    )
    return [
        PaidPayout(
            user_id=int(r.user_id),
            currency=str(r.currency),
            gross_minor=int(r.gross_minor),
            withholding_minor=int(r.withholding_minor or 0),
            paid_at=_utc(r.paid_at),
        )
        for r in rows
    ]


def _utc(moment: datetime | str) -> datetime:
    if isinstance(moment, str):  # SQLite through a lightweight table: no type to convert it
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def payees(conn: AsyncConnection, user_ids: list[int]) -> dict[int, Taxpayer]:
    if not user_ids:
        return {}
    subjects = {
        int(r.id): str(r.subject)
        for r in await conn.execute(
            select(_USERS.c.id, _USERS.c.subject).where(_USERS.c.id.in_(user_ids))
        )
    }
    records = await identity_store.load_many(conn, user_ids)
    forms = await tax_store.current_many(conn, user_ids)
    found: dict[int, Taxpayer] = {}
    for user_id in user_ids:
        ident = records[user_id].identity
        form = forms.get(user_id)
        found[user_id] = Taxpayer(
            user_id=user_id,
            subject=subjects.get(user_id, f"user:{user_id}"),
            legal_name=(form.form.legal_name if form else None) or ident.legal_name,
            country=(form.form.country if form else None) or ident.country,
            tax_form=form.form.kind.value if form else None,
            tin_last4=form.form.tin_last4 if form else None,
        )
    return found


def thresholds(settings: Settings) -> Thresholds:
    c = settings.compliance
    return Thresholds(
        form_1099k_minor=c.report_1099k_threshold_minor,
        form_1099k_payments=c.report_1099k_min_payments,
        dac7_minor=c.dac7_threshold_minor,
        dac7_payments=c.dac7_min_payments,
    )


async def year_end_report(
    svc: Compliance, *, year: int, actor: str, source: FromClause = PAYMENTS
) -> list[ReportRow]:
    """The report for `year`; the export is audited."""
    async with svc.db.read() as conn:
        paid = await paid_payouts(conn, year, source)
        people = await payees(conn, sorted({p.user_id for p in paid}))
    rows = summarize(year, paid, people, thresholds(svc.settings))
    async with svc.db.write() as conn:
        await write_audit_entry(
            conn, actor, Action.YEAR_END_REPORT, f"report:{year}", {"year": year, "rows": len(rows)}
        )
    return rows
