"""sessionwatch: session-refresh observability for web apps with sliding sessions."""

from __future__ import annotations

__version__ = "0.1.0"
