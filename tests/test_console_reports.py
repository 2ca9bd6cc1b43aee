"""The finance console's report pages and downloads without a browser: the year-end report and
its CSV, the audit log's filters, the payouts CSV (FINANCE only: ADMIN, who may open the
console, is refused it), bulk approval's CSRF check and empty selection, and the totals the
queues and lists show, in the console and the studio."""

from __future__ import annotations

import re
from collections.abc import Callable

from aiohttp.test_utils import TestClient, TestServer

from diamonds.app import mount_consoles
from economy.app import Economy
from economy.streams import end_stream, start_stream
from graph.server import create_app
from kernel.audit import write_audit_entry


def client_for(eco: Economy) -> TestClient:  # type: ignore[type-arg]
    app = create_app(eco)
    mount_consoles(app, eco, None)
    return TestClient(TestServer(app))


async def signed_in(client: TestClient, token: str) -> None:  # type: ignore[type-arg]
    answer = await client.post("/console/sign-in", data={"token": token}, allow_redirects=False)
    assert answer.status == 303


async def test_finance_reads_the_year_end_report_and_audit_log_and_downloads_csv(
    economy: Economy, token_for: Callable[..., str]
) -> None:
    async with client_for(economy) as client:
        await signed_in(client, token_for("finance:fay", "FINANCE"))
        report = await client.get("/console/reports/year-end?year=2025")
        assert report.status == 200
        assert "Year-end report 2025" in await report.text()
        csv = await client.get("/console/reports/year-end.csv?year=2025")
        assert csv.status == 200
        assert csv.content_type == "text/csv"
        assert "year-end-2025.csv" in csv.headers["Content-Disposition"]
        assert (await csv.text()).splitlines()[0].startswith("year,user_id,subject")
        assert (await client.get("/console/reports/year-end?year=nope")).status == 400

        audit = await client.get("/console/audit?action=REVEAL_TAX_ID")
        assert audit.status == 200
        assert (await client.get("/console/audit?created_from=yesterday")).status == 400

        payouts = await client.get("/console/payouts.csv?sort=LARGEST")
        assert payouts.status == 200
        assert (await payouts.text()).startswith("payout_id,created_at,status,creator")
        assert (await client.get("/console/payouts.csv?min_diamonds=lots")).status == 400


async def test_admin_may_not_export_payouts_and_bulk_approval_checks_csrf(
    economy: Economy, token_for: Callable[..., str]
) -> None:
    async with client_for(economy) as client:
        await signed_in(client, token_for("admin:al", "ADMIN"))
        assert (await client.get("/console/payouts.csv")).status == 403

        client.session.cookie_jar.clear()
        await signed_in(client, token_for("finance:fay", "FINANCE"))
        page = await client.get("/console/queues/awaiting-approval")
        found = re.search(r'name="csrf" value="([^"]+)"', await page.text())
        assert found is not None
        forged = await client.post("/console/bulk-approve", data={"payout_id": "x", "csrf": "no"})
        assert forged.status == 403
        empty = await client.post("/console/bulk-approve", data={"csrf": found.group(1)})
        assert empty.status == 422
        assert "Select at least one payout" in await empty.text()


async def test_the_queues_and_lists_say_how_many_they_hold(
    economy: Economy, token_for: Callable[..., str]
) -> None:
    async with economy.db.write() as conn:
        for n in range(3):
            await write_audit_entry(conn, "finance:fay", "test.kept", f"t{n}")
        await write_audit_entry(conn, "finance:fay", "test.other", "o")
    ann = await economy.users.ensure("creator:ann")
    for title in ("first", "second"):
        stream = await start_stream(economy, ann, title)
        await end_stream(economy, ann, stream.id, may_end_any=False)
    async with client_for(economy) as client:
        await signed_in(client, token_for("finance:fay", "FINANCE"))
        shown = {
            "/console/audit?action=test.kept": "3 entries match.",
            "/console/reviews/identity": "0 wait for a decision.",
            "/console/reviews/payout-methods": "0 wait for a decision.",
            "/console/reviews/sanctions": "0 wait for a decision.",
            "/console/discrepancies": "0 open discrepancies.",
            "/console/discrepancies?all=1": "0 discrepancies in all.",
            "/console/reconciliation": "0 runs.",
        }
        for url, total in shown.items():
            answer = await client.get(url)
            assert answer.status == 200, url
            assert f'id="total-count">{total}</p>' in await answer.text(), url

        answer = await client.post(
            "/studio/sign-in", data={"token": token_for("creator:ann", "CREATOR")}
        )
        assert answer.status == 200
        earnings = await (await client.get("/studio/earnings")).text()
        assert 'id="total-count">2 streams.</p>' in earnings
        home = await (await client.get("/studio")).text()
        assert 'id="total-count">0 payouts.</p>' in home
