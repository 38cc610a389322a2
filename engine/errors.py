"""The engine's exception tree, in one place.

EngineError
├── InputError          unusable arguments or unreadable files (exit 2)
├── ReceiptError        a receipt that does not decode or encode; names index, field
├── InvalidReceipts     receipts that break a rule; carries the report
├── TargetError         a target that cannot be used (compact bits, hex)
├── BackendUnavailable  a requested backend cannot run here
└── BlockInvalid        a block that fails verification

Messages are whole sentences that show the offending value; low-level errors
are re-raised as one of these with ``raise ... from exc``.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class InputError(EngineError):
    """An argument or a file the engine cannot use."""


class ReceiptError(EngineError):
    """A receipt that does not decode or encode; names its index and field."""

    def __init__(self, reason: str, index: int | None = None, field: str = "") -> None:
        self.reason = reason
        self.index = index
        self.field = field
        where = "" if index is None else f"receipt {index}"
        if field:
            where = f"{where}, field {field!r}" if where else f"field {field!r}"
        super().__init__(f"{where}: {reason}" if where else reason)


class InvalidReceipts(EngineError):
    """Receipts that break a validation rule; `report` lists every error."""

    def __init__(self, report: object, count: int) -> None:
        self.report = report
        super().__init__(f"{count} validation error(s); nothing was mined.")


class TargetError(EngineError):
    """A target, compact bits value or difficulty that cannot be used."""


class BackendUnavailable(EngineError):
    """The requested backend cannot run on this machine."""


class BlockInvalid(EngineError):
    """A block that fails verification; the message says why."""
