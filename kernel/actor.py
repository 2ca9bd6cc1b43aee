"""Who acts, as the domain packages see them: an id and a subject (the token's `sub`). Economy's
`User` is one; compliance and the audit log need nothing more of a person.
"""

from __future__ import annotations

from typing import Protocol


class Actor(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def subject(self) -> str: ...
