"""The finance console's reconciliation pages: the runs with the form to run a provider over a
period, one run with its totals and exception lines (each with a resolve form), and its CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from consoles.areas import CONSOLE
from consoles.execute import OperationFailed
from consoles.pages import Guarded, guard, guarded_form, wants_fragment

RUNS_PATH = f"{CONSOLE.path}/reconciliation"


def _by_field(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in errors:
        found.setdefault(error.get("field") or "form", []).append(
            f"{error['message']} ({error['code']})"
        )
    return found


async def runs_page(request: web.Request) -> web.Response:
    return await _runs(guard(request, CONSOLE))


async def _runs(
    signed_in: Guarded,
    *,
    status: int = 200,
    errors: Mapping[str, list[str]] | None = None,
    given: Mapping[str, str] | None = None,
) -> web.Response:
    variables: dict[str, Any] = {"first": 50}
    for name in ("after", "provider"):
        if signed_in.request.query.get(name):
            variables[name] = signed_in.request.query[name]
    try:
        data = await signed_in.run("ReconciliationRuns", variables)
    except OperationFailed as exc:
        return signed_in.refused(exc)
    values = {
        "runs": [edge["node"] for edge in data["reconciliationRuns"]["edges"]],
        "page": data["reconciliationRuns"]["pageInfo"],
        "total": data["reconciliationRuns"]["totalCount"],
        "providers": [p["slug"] for p in data["payoutProviders"]],
        "errors": errors or {},
        "given": given or {},
    }
    return signed_in.page("console/reconciliation_runs.html", values, status=status)


async def reconcile(request: web.Request) -> web.Response:
    """POST the run form: the run's page on success, the form with its errors otherwise."""
    signed_in, form = await guarded_form(request, CONSOLE)
    given = {name: form.get(name, "").strip() for name in ("provider", "since", "until")}
    payload_input: dict[str, Any] = {"provider": given["provider"], "since": given["since"]}
    if given["until"]:
        payload_input["until"] = given["until"]
    try:
        data = await signed_in.run("ReconcileProvider", {"input": payload_input})
    except OperationFailed as exc:
        return await _runs(signed_in, status=422, errors={"form": [exc.message]}, given=given)
    payload = data["reconcileProvider"]
    if payload["errors"] or payload["run"] is None:
        return await _runs(signed_in, status=422, errors=_by_field(payload["errors"]), given=given)
    raise web.HTTPSeeOther(f"{RUNS_PATH}/{payload['run']['id']}")


async def run_page(request: web.Request) -> web.Response:
    return await _run(guard(request, CONSOLE), request.match_info["run_id"])


async def _run(
    signed_in: Guarded,
    run_id: str,
    *,
    status: int = 200,
    errors: Mapping[str, Any] | None = None,
    notice: str | None = None,
) -> web.Response:
    every_line = signed_in.request.query.get("all") == "1"
    variables: dict[str, Any] = {"id": run_id, "exceptionsOnly": not every_line}
    if signed_in.request.query.get("after"):
        variables["after"] = signed_in.request.query["after"]
    try:
        data = await signed_in.run("ReconciliationRun", variables)
    except OperationFailed as exc:
        return signed_in.refused(exc)
    run = data["reconciliationRun"]
    if run is None:
        return signed_in.refused(OperationFailed("NOT_FOUND", f"there is no run {run_id}"))
    values = {
        "run": run,
        "lines": [edge["node"] for edge in run["lines"]["edges"]],
        "page": run["lines"]["pageInfo"],
        "every_line": every_line,
        "errors": errors or {},
        "notice": notice,
    }
    return signed_in.page("console/reconciliation_run.html", values, status=status)


async def resolve(request: web.Request) -> web.Response:
    """POST a resolve form of one exception line, with its note."""
    signed_in, form = await guarded_form(request, CONSOLE)
    run_id = request.match_info["run_id"]
    line_id = request.match_info["line_id"]
    variables = {"input": {"exceptionId": line_id, "note": form.get("note", "").strip()}}
    try:
        data = await signed_in.run("ResolveReconciliationException", variables)
    except OperationFailed as exc:
        return signed_in.refused(exc)
    problems = data["resolveReconciliationException"]["errors"]
    if problems:
        errors = {"line": line_id, "fields": _by_field(problems)}
        return await _run(signed_in, run_id, status=422, errors=errors)
    if not wants_fragment(request):
        raise web.HTTPSeeOther(f"{RUNS_PATH}/{run_id}")
    return await _run(signed_in, run_id, notice="Resolved.")


async def run_csv(request: web.Request) -> web.Response:
    signed_in = guard(request, CONSOLE)
    try:
        data = await signed_in.run("ReconciliationRunCsv", {"id": request.match_info["run_id"]})
    except OperationFailed as exc:
        return signed_in.refused(exc)
    run = data["reconciliationRun"]
    if run is None:
        raise web.HTTPNotFound(text="no such run")
    name = f"reconciliation-{run['provider']}-{run['periodStart']}.csv"
    return web.Response(
        text=run["csv"],
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
