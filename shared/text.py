"""Text for log and error lines: Redis bytes as text, long values cut, an exception on one line."""

from __future__ import annotations


def text(value: bytes | str) -> str:
    """A Redis reply (bytes) or text as text; undecodable bytes become U+FFFD rather than an error."""
    return value.decode(errors="replace") if isinstance(value, (bytes, bytearray)) else str(value)


def shortened(value: str, limit: int) -> str:
    """`value` whole if it is at most `limit` characters, else its start and its length."""
    return value if len(value) <= limit else f"{value[:limit]}... ({len(value)} characters)"


def one_line(error: BaseException, limit: int = 300) -> str:
    """An exception as one short line: its type and message, whitespace collapsed, cut at `limit`."""
    message = " ".join(str(error).split()) or "(no message)"
    line = f"{type(error).__name__}: {message}"
    return line if len(line) <= limit else line[:limit - 3] + "..."
