"""The users' root fields: `me`, the caller, created on first sight of their token."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.permissions import IsAuthenticated
from graph.users.types import User


@strawberry.type
class UserQueries:
    @strawberry.field(permission_classes=[IsAuthenticated], description="The caller.")
    async def me(self, info: Info[Context, None]) -> User | None:
        return User.of(await info.context.user())
