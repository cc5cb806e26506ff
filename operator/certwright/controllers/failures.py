"""How an issuance step fails: a reason for the conditions and the Event, and what it costs."""

from __future__ import annotations

from ..domain.conditions import Reason


class IssuanceFailed(Exception):
    """An issuance step failed; ``reason`` goes on the conditions and the Event, ``order_spent`` says
    whether the order is unusable (a new one is needed next time)."""

    def __init__(
        self, reason: Reason, message: str, *, order_spent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.order_spent = order_spent
        self.retry_after = retry_after
