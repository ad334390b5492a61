"""Hall events: the queue (排队叫号) and service windows."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from streams.models.common import EventBase, Ident

QueueEventType = Literal[
    "ticket_issued",
    "ticket_called",
    "service_started",
    "service_completed",
    "ticket_transferred",
    "ticket_no_show",
    "ticket_walkout",
]

#: A ticket is bound to a window from the call onwards; before that it has none.
_NEEDS_WINDOW = frozenset({"ticket_called", "service_started", "service_completed", "ticket_transferred"})


class QueueEvent(EventBase):
    """One step in the life of a queue ticket in a hall."""

    type: QueueEventType
    hall_id: Ident
    ticket_no: Ident
    item_id: Ident | None = None
    dept_id: Ident | None = None
    window_id: Ident | None = None
    to_window_id: Ident | None = Field(default=None, description="Target window of a transfer.")
    staff_id: Ident | None = None
    appointment: bool = False

    @model_validator(mode="after")
    def _window_when_called(self) -> QueueEvent:
        if self.type in _NEEDS_WINDOW and self.window_id is None:
            raise ValueError(f"window_id is required for {self.type}")
        if self.type == "ticket_transferred" and self.to_window_id is None:
            raise ValueError("to_window_id is required for ticket_transferred")
        return self


WindowEventType = Literal["window_opened", "window_paused", "window_closed", "staff_login", "staff_logout"]


class WindowEvent(EventBase):
    """A service window changing state, or staff signing in or out of it."""

    type: WindowEventType
    hall_id: Ident
    window_id: Ident
    staff_id: Ident | None = None

    @model_validator(mode="after")
    def _staff_for_login(self) -> WindowEvent:
        if self.type in ("staff_login", "staff_logout") and self.staff_id is None:
            raise ValueError(f"staff_id is required for {self.type}")
        return self
