"""Calls that auth handlers make to record session events in Redis.

`SessionMetrics` serves blocking code, `AsyncSessionMetrics` asyncio code; both never raise
into the caller. Key names live in `keys`, the reason vocabulary in `normalize.REASONS`.
"""

from __future__ import annotations

from .async_recorder import AsyncSessionMetrics
from .client_ip import ClientIPResolver
from .config import RecorderConfig
from .keys import KeySchema, RetentionConfig
from .normalize import REASONS, IPMode
from .recorder import SessionMetrics

__all__ = [
    "REASONS",
    "AsyncSessionMetrics",
    "ClientIPResolver",
    "IPMode",
    "KeySchema",
    "RecorderConfig",
    "RetentionConfig",
    "SessionMetrics",
]
