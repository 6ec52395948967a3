"""What the hibernated kernel's own memory holds, as documents: its log (``dmesg IMAGE``)."""

from __future__ import annotations

from swsusp_inspect.model.serialize import JsonModel, record

__all__ = ["KernelLog", "LogRecord"]


@record
class LogRecord:
    """One kernel log record.

    Attributes:
        seq: sequence number (None in formats that do not keep one).
        ts_nsec: local clock timestamp in nanoseconds (None when the format has none).
        level: syslog level 0..7 (None when unknown).
        facility: syslog facility (0 = kernel; None when unknown).
        caller: ``"T<pid>"`` or ``"C<cpu>"`` (5.1+ with the caller id), else None.
        text: the message, without the trailing newline (may hold several lines).
    """

    seq: int | None
    ts_nsec: int | None
    level: int | None
    facility: int | None
    caller: str | None
    text: str


@record
class KernelLog(JsonModel):
    """The kernel log as it stood at the snapshot (``dmesg --json``)."""

    path: str
    format: str | None  # the log buffer's format ("printk_ringbuffer" 5.10+, ...)
    records: tuple[LogRecord, ...]
    errors: tuple[str, ...]  # what of the kernel's memory could not be read
