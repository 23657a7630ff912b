"""Structured JSON logs, one object per line, with the request id when there is one."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from .context import current_request_id, current_service

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": current_service.get() or self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = current_request_id()
        if rid:
            out["request_id"] = rid
        out.update({k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class _JsonHandler(logging.StreamHandler):
    """Ours, so a second service in the same process finds it and adds no second one."""


def configure_logging(service: str, level: str = "INFO") -> None:
    root = logging.getLogger()
    # In the embedded mode several services configure logging in one process: keep one handler.
    if not any(isinstance(h, _JsonHandler) for h in root.handlers):
        handler = _JsonHandler(sys.stderr)
        handler.setFormatter(JsonFormatter(service if service else "ampflux"))
        root.addHandler(handler)
    root.setLevel(level)
    # httpx2 / httpcore2: the HTTP client of the openai SDK (an INFO line per provider call)
    for noisy in ("uvicorn.access", "httpx", "httpcore", "httpx2", "httpcore2", "aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
