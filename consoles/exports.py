"""The finance console's CSV downloads: the payouts list as filtered in the URL
(`PayoutExport`) and the year-end report (`YearEndReport`), each a file to save.
"""

from __future__ import annotations

from aiohttp import web

from consoles.areas import CONSOLE
from consoles.execute import OperationFailed
from consoles.filters import BadFilter, PayoutFilters
from consoles.pages import guard


def _download(text: str, filename: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def payouts_csv(request: web.Request) -> web.Response:
    signed_in = guard(request, CONSOLE)
    try:
        variables = PayoutFilters.from_query(request.query).filter_variables()
        data = await signed_in.run("PayoutExport", variables)
    except BadFilter as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    except OperationFailed as exc:
        return signed_in.refused(exc)
    return _download(data["payouts"]["csv"], "payouts.csv")
