"""Staff accounts: every operation of a FINANCE or ADMIN caller marks the caller's user staff (for
good), so that `Context.may_see_user` keeps it from callers who are not staff.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension

from graph.context import Context


class MarkStaff(SchemaExtension):
    """Before an operation runs, a staff caller's user (if it exists yet) is marked staff; a user
    created later for a staff caller is created staff (`Context.user`)."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.principal.is_staff:
            subject = context.principal.subject
            if subject is not None:
                await context.eco.users.mark_staff(subject)
        yield
