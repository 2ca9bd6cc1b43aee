"""The finance console's bulk approval: payouts selected in a list or queue, a confirmation
listing them, then `bulkApprovePayouts` and its answer per payout shown above the list.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from consoles.areas import CONSOLE
from consoles.execute import OperationFailed
from consoles.finance import list_of
from consoles.pages import guarded_form

MAX_SELECTED = 100
"""As many as the API takes at once."""


async def bulk_approve(request: web.Request) -> web.Response:
    """POST the selected payouts. Without `confirmed=yes` the list answers with a confirmation
    naming them; with it the mutation runs and the list shows what became of each."""
    signed_in, form = await guarded_form(request, CONSOLE)
    ids = [str(i) for i in (await request.post()).getall("payout_id", [])]
    queue = form.get("queue") or None
    if not ids:
        problem = "Select at least one payout to approve."
        return await list_of(signed_in, queue, extra={"bulk": {"problem": problem}}, status=422)
    if len(ids) > MAX_SELECTED:
        problem = f"Select at most {MAX_SELECTED} payouts at once."
        return await list_of(signed_in, queue, extra={"bulk": {"problem": problem}}, status=422)
    if form.get("confirmed") != "yes":
        return await list_of(signed_in, queue, extra={"bulk": {"confirming": ids}})
    try:
        data = await signed_in.run("BulkApprovePayouts", {"input": {"payoutIds": ids}})
    except OperationFailed as exc:
        return signed_in.refused(exc)
    payload = data["bulkApprovePayouts"]
    if payload["errors"]:
        problem = "; ".join(f"{e['message']} ({e['code']})" for e in payload["errors"])
        return await list_of(signed_in, queue, extra={"bulk": {"problem": problem}}, status=422)
    results = payload["results"]
    approved = sum(1 for r in results if r["payout"] is not None)
    bulk: dict[str, Any] = {
        "results": results,
        "approved": approved,
        "refused": len(results) - approved,
    }
    return await list_of(signed_in, queue, extra={"bulk": bulk})
