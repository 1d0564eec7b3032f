"""One APIRouter per resource; `ROUTERS` is the order api/main.py includes them in."""

from __future__ import annotations

from api.routes import (
    admin,
    chat,
    conversations,
    drafts,
    handoffs,
    ops,
    pages,
    signals,
    widget_config,
)

ROUTERS = (
    chat.router,
    widget_config.router,
    conversations.router,
    drafts.router,
    handoffs.router,
    admin.router,
    signals.router,
    pages.router,
    ops.router,
)
