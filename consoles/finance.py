"""The finance console's pages: the payouts list and its queues, a payout with its ledger
entries, its creator's compliance state and its actions (approve, reject, cancel, retry, resolve;
a confirmation first for those that move money), and the discrepancies queue with acknowledge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from consoles.areas import CONSOLE
from consoles.execute import OperationFailed
from consoles.filters import PAYOUT_SORTS, PAYOUT_STATUSES, BadFilter, PayoutFilters
from consoles.operations import operation
from consoles.pages import Guarded, guard, guarded_form, wants_fragment
from graph.auth import Role

QUEUES = (
    ("awaiting-approval", "Awaiting approval", "AWAITING_APPROVAL"),
    ("on-hold", "On hold", "ON_HOLD"),
    ("unknown", "Unknown outcome", "UNKNOWN"),
)
"""The payout queues: a name in the URL, a title, and the status that makes the queue."""


@dataclass(frozen=True)
class Action:
    """A finance action on a payout: its operation, the input fields it takes from the form,
    and whether it moves money (then it asks for a confirmation first)."""

    name: str
    label: str
    operation: str
    fields: tuple[str, ...]
    moves_money: bool
    done: str


ACTIONS = {
    action.name: action
    for action in (
        Action("approve", "Approve", "ApprovePayout", (), True, "Approved."),
        Action("reject", "Reject", "RejectPayout", ("reason",), False, "Rejected."),
        Action("cancel", "Cancel", "CancelPayout", (), False, "Canceled."),
        Action("retry", "Retry", "RetryPayout", ("reason",), True, "Retried as a new attempt."),
        Action("resolve", "Resolve", "ResolvePayout", ("outcome", "reason"), True, "Resolved."),
    )
}
MUTATION_FIELDS = {
    "ApprovePayout": "approvePayout",
    "RejectPayout": "rejectPayout",
    "CancelPayout": "cancelPayout",
    "RetryPayout": "retryPayout",
    "ResolvePayout": "resolvePayout",
}
RESOLUTIONS = ("PAID", "FAILED", "CANCELED")


def actions_for(status: str) -> list[str]:
    """The actions that make sense for a payout in `status` (the API decides in the end)."""
    found = []
    if status in ("AWAITING_APPROVAL", "ON_HOLD"):
        found += ["approve", "reject"]
    if status in ("REQUESTED", "AWAITING_APPROVAL", "APPROVED", "ON_HOLD"):
        found.append("cancel")
    if status == "FAILED":
        found.append("retry")
    if status in ("UNKNOWN", "SUBMITTED"):
        found.append("resolve")
    return found


async def payouts_page(request: web.Request) -> web.Response:
    signed_in = guard(request, CONSOLE)
    filters = PayoutFilters.from_query(request.query)
    return await _list(signed_in, filters, title="Payouts", queue=None)


async def queue_page(request: web.Request) -> web.Response:
    signed_in = guard(request, CONSOLE)
    name = request.match_info["queue"]
    queue = next((q for q in QUEUES if q[0] == name), None)
    if queue is None:
        raise web.HTTPNotFound(text=f"no queue named {name!r}")
    query = dict(request.query)
    query["status"] = queue[2]
    return await _list(signed_in, PayoutFilters.from_query(query), title=queue[1], queue=name)


APPROVABLE = ("AWAITING_APPROVAL", "ON_HOLD")
"""The statuses a payout can be approved from: its row gets a box to select it for bulk
approval."""


async def _list(
    signed_in: Guarded,
    filters: PayoutFilters,
    *,
    title: str,
    queue: str | None,
    extra: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    values: dict[str, Any] = {
        "sorts": PAYOUT_SORTS,
        "approvable": APPROVABLE,
        "total": 0,
        "bulk": None,
        **(extra or {}),
        "title": title,
        "queue": queue,
        "queues": QUEUES,
        "filters": filters,
        "statuses": PAYOUT_STATUSES,
        "problem": None,
        "payouts": [],
        "providers": [],
        "page": {"hasNextPage": False, "endCursor": None},
    }
    try:
        data = await signed_in.run("PayoutList", filters.variables())
    except BadFilter as exc:
        values["problem"] = str(exc)
        return signed_in.page("console/payouts.html", values, status=400)
    except OperationFailed as exc:
        if exc.code in ("FORBIDDEN", "UNAUTHENTICATED"):
            return signed_in.refused(exc)
        values["problem"] = exc.message
        return signed_in.page("console/payouts.html", values, status=400)
    values["payouts"] = [edge["node"] for edge in data["payouts"]["edges"]]
    values["page"] = data["payouts"]["pageInfo"]
    values["total"] = data["payouts"]["totalCount"]
    values["providers"] = [p["slug"] for p in data["payoutProviders"]]
    return signed_in.page("console/payouts.html", values, status=status)


async def list_of(
    signed_in: Guarded,
    queue: str | None,
    *,
    extra: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    """The payouts list, or queue `queue`, filtered as the request's URL says, with `extra`
    values for the page (a bulk approval's confirmation or outcome)."""
    found = next((q for q in QUEUES if q[0] == queue), None)
    query = dict(signed_in.request.query)
    if found is not None:
        query["status"] = found[2]
    filters = PayoutFilters.from_query(query)
    title = found[1] if found else "Payouts"
    name = found[0] if found else None
    return await _list(signed_in, filters, title=title, queue=name, extra=extra, status=status)


async def _panel(
    signed_in: Guarded,
    payout_id: str,
    *,
    status: int = 200,
    notice: str | None = None,
    errors: Mapping[str, Any] | None = None,
    confirming: Mapping[str, Any] | None = None,
) -> web.Response:
    """The payout page, or only its panel when the request is a fetch from console.js."""
    try:
        # Another person's compliance data is FINANCE's (ADMIN, who also enters, is refused it).
        with_compliance = signed_in.session.principal.has(Role.FINANCE)
        data = await signed_in.run(
            "PayoutDetail", {"id": payout_id, "withCompliance": with_compliance}
        )
    except OperationFailed as exc:
        return signed_in.refused(exc)
    payout = data["payout"]
    if payout is None:
        return signed_in.refused(OperationFailed("NOT_FOUND", f"there is no payout {payout_id}"))
    values = {
        "payout": payout,
        "actions": [ACTIONS[name] for name in actions_for(payout["status"])],
        "resolutions": RESOLUTIONS,
        "notice": notice,
        "errors": errors or {},
        "confirming": confirming,
        "live_query": operation("PayoutStatusChanged"),
    }
    template = (
        "console/payout_panel.html"
        if wants_fragment(signed_in.request)
        else ("console/payout.html")
    )
    return signed_in.page(template, values, status=status)


async def payout_page(request: web.Request) -> web.Response:
    signed_in = guard(request, CONSOLE)
    done = ACTIONS.get(request.query.get("done", ""))
    return await _panel(
        signed_in, request.match_info["payout_id"], notice=done.done if done else None
    )


def _errors_by_field(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Payload errors keyed by the field they name (`form` for none)."""
    found: dict[str, list[str]] = {}
    for error in errors:
        found.setdefault(error.get("field") or "form", []).append(
            f"{error['message']} ({error['code']})"
        )
    return found


async def payout_action(request: web.Request) -> web.Response:
    """POST an action. A money-moving one without `confirmed=yes` answers with the confirmation
    step; with it (or for the others) the mutation runs and the panel shows the outcome."""
    signed_in, form = await guarded_form(request, CONSOLE)
    payout_id = request.match_info["payout_id"]
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise web.HTTPNotFound(text="no such action")
    given = {name: form.get(name, "").strip() for name in action.fields}
    if action.moves_money and form.get("confirmed") != "yes":
        return await _panel(signed_in, payout_id, confirming={"action": action, "given": given})
    try:
        data = await signed_in.run(action.operation, {"input": {"payoutId": payout_id, **given}})
    except OperationFailed as exc:
        errors = {"action": action.name, "fields": {"form": [f"{exc.message} ({exc.code})"]}}
        return await _panel(signed_in, payout_id, status=422, errors=errors)
    payload = data[MUTATION_FIELDS[action.operation]]
    if payload["errors"]:
        errors = {
            "action": action.name,
            "fields": _errors_by_field(payload["errors"]),
            "given": given,
        }
        return await _panel(signed_in, payout_id, status=422, errors=errors)
    if not wants_fragment(request):
        raise web.HTTPSeeOther(f"{CONSOLE.path}/payouts/{payout_id}?done={action.name}")
    return await _panel(signed_in, payout_id, notice=action.done)


async def discrepancies_page(request: web.Request) -> web.Response:
    signed_in = guard(request, CONSOLE)
    return await _discrepancies(signed_in, show_all=request.query.get("all") == "1")


async def _discrepancies(
    signed_in: Guarded,
    *,
    show_all: bool = False,
    status: int = 200,
    errors: Mapping[str, Any] | None = None,
    notice: str | None = None,
) -> web.Response:
    variables: dict[str, object] = {"first": 100, "open": not show_all}
    after = signed_in.request.query.get("after")
    if after:
        variables["after"] = after
    try:
        data = await signed_in.run("Discrepancies", variables)
    except OperationFailed as exc:
        return signed_in.refused(exc)
    connection = data["payoutDiscrepancies"]
    values = {
        "discrepancies": [edge["node"] for edge in connection["edges"]],
        "page": connection["pageInfo"],
        "total": connection["totalCount"],
        "show_all": show_all,
        "errors": errors or {},
        "notice": notice,
        "queues": QUEUES,
    }
    return signed_in.page("console/discrepancies.html", values, status=status)


async def acknowledge_discrepancy(request: web.Request) -> web.Response:
    signed_in, form = await guarded_form(request, CONSOLE)
    discrepancy_id = request.match_info["discrepancy_id"]
    variables = {"input": {"discrepancyId": discrepancy_id, "note": form.get("note", "").strip()}}
    try:
        data = await signed_in.run("AcknowledgeDiscrepancy", variables)
    except OperationFailed as exc:
        return signed_in.refused(exc)
    problems = data["acknowledgePayoutDiscrepancy"]["errors"]
    if problems:
        errors = {"id": discrepancy_id, "fields": _errors_by_field(problems)}
        return await _discrepancies(signed_in, status=422, errors=errors)
    if not wants_fragment(request):
        raise web.HTTPSeeOther(f"{CONSOLE.path}/discrepancies")
    return await _discrepancies(signed_in, notice="Acknowledged.")
