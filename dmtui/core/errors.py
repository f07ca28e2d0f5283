"""The one exception type that reaches the faces (CLI, TUI): a one-line reason plus advice."""

from __future__ import annotations


class DmtuiError(Exception):
    """Refused or failed; `str()` is one line that says what failed and what to do next."""

    def __init__(self, message: str, advice: str | None = None) -> None:
        self.reason = message
        self.advice = advice
        super().__init__(f"{message}; {advice}" if advice else message)


class Refused(DmtuiError):
    """A safety check said no. Nothing was changed."""
