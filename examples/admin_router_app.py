"""Serve the Sessions widget and its JSON endpoints behind the host application's admin check.

The widget's requests carry the page's cookies, so `require_admin` receives the admin's
session cookie. Run it from the repository root with:

    SESSIONWATCH_REDIS_URL=redis://localhost:6379/0 .venv/bin/uvicorn examples.admin_router_app:app
"""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.staticfiles import StaticFiles
from sessionwatch.api_hooks.connection import redis_from_url
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.app import STATIC_DIR
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.router import sessions_admin_router

REDIS_URL = os.environ.get("SESSIONWATCH_REDIS_URL", "redis://localhost:6379/0")
PREFIX = os.environ.get("SESSIONWATCH_PREFIX", "sessionwatch")

reader = SessionStatsReader(redis_from_url(REDIS_URL, timeout=1.0), KeySchema(PREFIX))

# Filled by your admin login: the session cookies of signed-in admins.
ADMIN_SESSIONS: set[str] = set()


def require_admin(request: Request) -> None:
    """Reject requests without an admin session cookie; use your app's own check instead."""
    if request.cookies.get("admin_session") not in ADMIN_SESSIONS:
        raise HTTPException(403, "admin session required")


app = FastAPI()
app.include_router(sessions_admin_router(reader, dependencies=[Depends(require_admin)]))
app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")  # the widget's files
