"""The finance console's reports: the audit log (filtered by actor, target, action and day range,
kept in the URL, paged newest first) and the year-end report (a table, and its CSV to download).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from consoles.areas import CONSOLE
from consoles.execute import OperationFailed
from consoles.pages import guard

AUDIT_PAGE_SIZE = 50
AUDIT_FILTERS = ("actor", "target", "action", "created_from", "created_to")


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _audit_variables(query: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    """The `AuditLog` variables from the URL's filters, and the problem with one, if any."""
    found: dict[str, Any] = {"first": AUDIT_PAGE_SIZE}
    for name in ("actor", "target", "action"):
        if query.get(name):
            found[name] = query[name]
    if query.get("after"):
        found["after"] = query["after"]
    for name, variable, shift in (
        ("created_from", "createdAfter", 0),
        ("created_to", "createdBefore", 1),
    ):
        if not query.get(name):
            continue
        day = _day(query[name])
        if day is None:
            return found, f"{name.replace('_', ' ')}: {query[name]!r} is not a date (YYYY-MM-DD)"
        found[variable] = f"{day + timedelta(days=shift)}T00:00:00+00:00"
    return found, None


async def audit_page(request: web.Request) -> web.Response:
    signed_in = guard(request, CONSOLE)
    query = {name: request.query.get(name, "").strip() for name in (*AUDIT_FILTERS, "after")}
    variables, problem = _audit_variables(query)
    values: dict[str, Any] = {
        "filters": query,
        "entries": [],
        "page": {},
        "total": None,
        "problem": problem,
    }
    if problem:
        return signed_in.page("console/audit.html", values, status=400)
    try:
        data = await signed_in.run("AuditLog", variables)
    except OperationFailed as exc:
        if exc.code in ("FORBIDDEN", "UNAUTHENTICATED"):
            return signed_in.refused(exc)
        values["problem"] = exc.message
        return signed_in.page("console/audit.html", values, status=400)
    values["entries"] = [edge["node"] for edge in data["auditLog"]["edges"]]
    values["page"] = data["auditLog"]["pageInfo"]
    values["total"] = data["auditLog"]["totalCount"]
    values["next_query"] = {k: v for k, v in query.items() if v and k != "after"}
    return signed_in.page("console/audit.html", values)


def _year(request: web.Request) -> int:
    text = request.query.get("year", "").strip()
    if not text:
        return datetime.now(UTC).year - 1
    if not text.isdigit() or not 2000 <= int(text) <= 2100:
        raise web.HTTPBadRequest(text=f"year: {text!r} is not a year")
    return int(text)


async def year_end_page(request: web.Request) -> web.Response:
    signed_in = guard(request, CONSOLE)
    year = _year(request)
    try:
        data = await signed_in.run("YearEndReport", {"year": year})
    except OperationFailed as exc:
        return signed_in.refused(exc)
    report = data["yearEndReport"]
    return signed_in.page("console/year_end.html", {"year": year, "report": report})


async def year_end_csv(request: web.Request) -> web.Response:
    signed_in = guard(request, CONSOLE)
    year = _year(request)
    try:
        data = await signed_in.run("YearEndReport", {"year": year})
    except OperationFailed as exc:
        return signed_in.refused(exc)
    return web.Response(
        text=data["yearEndReport"]["csv"],
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="year-end-{year}.csv"'},
    )
