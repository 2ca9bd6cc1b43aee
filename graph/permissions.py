"""Who may call what, declared on the fields: a permission class per role requirement.

A refusal is a top-level error with code UNAUTHENTICATED (no token) or FORBIDDEN (wrong role).
"""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission
from strawberry.types import Info

from graph.auth import Role
from graph.context import Context
from graph.errors import forbidden, unauthenticated


class _RequireRoles(BasePermission):
    roles: ClassVar[tuple[Role, ...]] = ()
    action: ClassVar[str] = "do this"

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        principal = info.context.principal
        if not principal.authenticated:
            raise unauthenticated(websocket=info.context.over_websocket)
        if self.roles and not principal.has(*self.roles):
            needed = " or ".join(r.value for r in self.roles)
            raise forbidden(f"{self.action} (needs the {needed} role)")
        return True


class IsAuthenticated(_RequireRoles):
    pass


class CanSendGifts(_RequireRoles):
    roles = (Role.VIEWER, Role.CREATOR)
    action = "send gifts"


class CanStream(_RequireRoles):
    roles = (Role.CREATOR,)
    action = "start a stream"


class CanEndStream(_RequireRoles):
    roles = (Role.CREATOR, Role.ADMIN)
    action = "end a stream"


class IsAdmin(_RequireRoles):
    roles = (Role.ADMIN,)
    action = "grant coins"


class CanRequestPayouts(_RequireRoles):
    roles = (Role.CREATOR,)
    action = "request payouts"


class IsFinance(_RequireRoles):
    roles = (Role.FINANCE,)
    action = "review payouts"


class CanCancelPayouts(_RequireRoles):
    roles = (Role.CREATOR, Role.FINANCE)
    action = "cancel payouts"


class CanReadPayoutLedger(_RequireRoles):
    roles = (Role.FINANCE, Role.ADMIN)
    action = "read a payout's ledger entries"


class CanReadAuditLog(_RequireRoles):
    roles = (Role.FINANCE, Role.ADMIN)
    action = "read the audit log"
