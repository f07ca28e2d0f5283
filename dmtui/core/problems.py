"""Findings an operator must know about, each with a severity and one line of advice."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    severity: str  # "error" | "warning"
    message: str

    @classmethod
    def error(cls, message: str) -> Problem:
        return cls("error", message)

    @classmethod
    def warning(cls, message: str) -> Problem:
        return cls("warning", message)

    def to_json(self) -> dict[str, str]:
        return {"severity": self.severity, "message": self.message}
