"""The finance console's compliance queues: identity reviews, payout-method reviews and sanctions
hits, each a list with its decision form (decision and note), all through the API's operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from consoles.areas import CONSOLE
from consoles.execute import OperationFailed
from consoles.pages import Guarded, guard, guarded_form


@dataclass(frozen=True)
class ReviewQueue:
    """A compliance queue: its URL name, title, list operation and field, the columns shown
    (label, node key), and its decision: operation, payload field, id input, decisions."""

    name: str
    title: str
    query: str
    field: str
    columns: tuple[tuple[str, str], ...]
    decide: str
    payload: str
    id_input: str
    id_of: str
    """`id` (the row's) or `user` (the row's user's): what the decision takes as its id."""
    decisions: tuple[str, ...]


REVIEW_QUEUES = {
    queue.name: queue
    for queue in (
        ReviewQueue(
            "identity",
            "Identity reviews",
            "IdentityReviewQueue",
            "identityReviewQueue",
            (
                ("Legal name", "legalName"),
                ("Date of birth", "dateOfBirth"),
                ("Country", "country"),
                ("Method", "method"),
                ("Submitted", "submittedAt"),
            ),
            "ReviewIdentity",
            "reviewIdentity",
            "userId",
            "user",
            ("APPROVE", "REJECT", "REQUEST_INPUT"),
        ),
        ReviewQueue(
            "payout-methods",
            "Payout-method reviews",
            "PayoutMethodReviewQueue",
            "payoutMethodReviewQueue",
            (
                ("Provider", "provider"),
                ("Method", "display"),
                ("Holder", "holderName"),
                ("Country", "country"),
                ("Added", "createdAt"),
            ),
            "ReviewPayoutMethod",
            "reviewPayoutMethod",
            "payoutMethodId",
            "id",
            ("VERIFY", "REJECT"),
        ),
        ReviewQueue(
            "sanctions",
            "Sanctions hits",
            "SanctionsHits",
            "sanctionsHits",
            (
                ("Screened name", "screenedName"),
                ("Matched", "matchedName"),
                ("List entry", "entryName"),
                ("Score", "score"),
                ("Country match", "countryMatch"),
                ("Found", "createdAt"),
            ),
            "DecideSanctionsHit",
            "decideSanctionsHit",
            "hitId",
            "id",
            ("CLEAR", "CONFIRM"),
        ),
    )
}


def _queue(request: web.Request) -> ReviewQueue:
    queue = REVIEW_QUEUES.get(request.match_info["review"])
    if queue is None:
        raise web.HTTPNotFound(text="no such review queue")
    return queue


def decision_id(queue: ReviewQueue, node: Mapping[str, Any]) -> str:
    return str(node["user"]["id"] if queue.id_of == "user" else node["id"])


async def review_page(request: web.Request) -> web.Response:
    return await _render(guard(request, CONSOLE), _queue(request))


async def _render(
    signed_in: Guarded,
    queue: ReviewQueue,
    *,
    status: int = 200,
    errors: Mapping[str, Any] | None = None,
    notice: str | None = None,
) -> web.Response:
    try:
        data = await signed_in.run(queue.query, {"after": signed_in.request.query.get("after")})
    except OperationFailed as exc:
        return signed_in.refused(exc)
    connection = data[queue.field]
    rows = [(decision_id(queue, edge["node"]), edge["node"]) for edge in connection["edges"]]
    values = {
        "queue": queue,
        "queues": REVIEW_QUEUES.values(),
        "rows": rows,
        "page": connection["pageInfo"],
        "total": connection["totalCount"],
        "errors": errors or {},
        "notice": notice,
        "decided": signed_in.request.query.get("decided"),
    }
    return signed_in.page("console/reviews.html", values, status=status)


async def decide(request: web.Request) -> web.Response:
    signed_in, form = await guarded_form(request, CONSOLE)
    queue = _queue(request)
    subject_id = request.match_info["subject_id"]
    variables = {
        "input": {
            queue.id_input: subject_id,
            "decision": form.get("decision", ""),
            "note": form.get("note", "").strip(),
        }
    }
    try:
        data = await signed_in.run(queue.decide, variables)
    except OperationFailed as exc:
        errors = {"id": subject_id, "messages": [f"{exc.message} ({exc.code})"]}
        return await _render(signed_in, queue, status=422, errors=errors)
    problems = data[queue.payload]["errors"]
    if problems:
        messages = [f"{p['field'] or 'form'}: {p['message']} ({p['code']})" for p in problems]
        return await _render(
            signed_in, queue, status=422, errors={"id": subject_id, "messages": messages}
        )
    raise web.HTTPSeeOther(f"{CONSOLE.path}/reviews/{queue.name}?decided={subject_id}")
