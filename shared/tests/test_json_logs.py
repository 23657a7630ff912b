"""JSON log lines carry the service and request they belong to."""

from __future__ import annotations

import json
import logging

from ampflux_shared.observability.context import current_request_id_var as current_request
from ampflux_shared.observability.context import current_service
from ampflux_shared.observability.logging import JsonFormatter


def format_line(**extra) -> dict:
    record = logging.LogRecord("ampflux.test", logging.INFO, __file__, 1, "saved %s", ("v1",), None)
    for k, v in extra.items():
        setattr(record, k, v)
    return json.loads(JsonFormatter("fallback").format(record))


def test_line_names_the_service_of_the_current_context_and_the_request():
    s_token = current_service.set("project")
    r_token = current_request.set("req-abcdef123456")
    try:
        line = format_line(circuit_id="c-1")
    finally:
        current_service.reset(s_token)
        current_request.reset(r_token)
    assert line["service"] == "project"
    assert line["request_id"] == "req-abcdef123456"
    assert line["message"] == "saved v1"
    assert line["circuit_id"] == "c-1"


def test_outside_any_request_the_configured_name_is_used():
    line = format_line()
    assert line["service"] == "fallback"
    assert "request_id" not in line
