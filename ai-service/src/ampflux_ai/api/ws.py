"""WebSocket `/ai/ws` (Amanda's protocol).

Client: `{"type": "send_message", "chat_id": <conversation id or null>, "message": "..."}`.
Server: `message_token {text}`, `message_complete {message_id, chat_id, full_text}`,
`error {message}`. A null `chat_id` starts a new conversation. The token comes from the
`Authorization` header (the gateway sets it, also for `?token=` and API keys).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ampflux_shared.errors import ProblemError
from ampflux_shared.security import Principal
from ampflux_shared.security.jwks import TokenError
from ampflux_shared.security.scopes import check_scope

from ..domain import conversations
from ..schemas import MAX_MESSAGE_CHARS
from .replying import start_reply

router = APIRouter(tags=["websocket"])


async def _principal(ws: WebSocket) -> tuple[Principal, str] | None:
    header = ws.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ws.query_params.get("token", "")
    if not token:
        return None
    try:
        principal = Principal.from_claims(await ws.app.state.verifier.verify(token))
        check_scope(principal, "ai:write")
    except (TokenError, ProblemError):
        return None
    return principal, f"Bearer {token}"


@router.websocket("/ai/ws")
async def chat_socket(ws: WebSocket) -> None:
    who = await _principal(ws)
    if who is None:
        await ws.close(code=4401, reason="authentication required (bearer token with ai:write)")
        return
    principal, bearer = who
    await ws.accept()
    try:
        while True:
            incoming: Any = await ws.receive_json()
            if not isinstance(incoming, dict) or incoming.get("type") != "send_message":
                await ws.send_json({"type": "error", "message": "expected {type: send_message, chat_id, message}"})
                continue
            text = incoming.get("message")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE_CHARS:
                await ws.send_json({"type": "error", "message": f"message must be 1..{MAX_MESSAGE_CHARS} characters"})
                continue
            await _answer(ws, principal, bearer, incoming.get("chat_id"), text)
    except WebSocketDisconnect:
        return  # a reply still being written is finished and stored by its generation task


async def _answer(ws: WebSocket, principal: Principal, bearer: str, chat_id: Any, text: str) -> None:
    try:
        if chat_id is None:
            async with ws.app.state.db.session() as session:
                conversation_id = (await conversations.create(session, principal)).id
        else:
            conversation_id = uuid.UUID(str(chat_id))
        started = await start_reply(ws.app, principal, bearer, conversation_id, text)
    except ValueError:
        await ws.send_json({"type": "error", "message": "chat_id must be a conversation id"})
        return
    except ProblemError as exc:
        await ws.send_json({"type": "error", "message": exc.detail, "status": exc.status})
        return
    async for event in started.generation.follow():
        if event.type == "token":
            await ws.send_json({"type": "message_token", "text": event.data["text"], "chat_id": str(conversation_id)})
        elif event.type in ("tool_call", "tool_result"):
            await ws.send_json({"type": event.type, **event.data})
        elif event.type == "complete":
            await ws.send_json(
                {
                    "type": "message_complete",
                    "message_id": event.data["message_id"],
                    "chat_id": str(conversation_id),
                    "full_text": event.data["full_text"],
                }
            )
        elif event.type == "error":
            await ws.send_json(
                {"type": "error", "message": event.data["message"], "message_id": str(started.message_id)}
            )
