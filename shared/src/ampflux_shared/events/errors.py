"""Errors the event machinery raises, so callers can tell transient from permanent."""

from __future__ import annotations


class EventError(Exception):
    """Root of every error raised by `ampflux_shared.events`."""


class PublishError(EventError):
    """The broker did not confirm the event (down, timed out, nacked): retry later."""


class BusUnavailableError(EventError):
    """The bus is not connected (raised by `ping()` and by operations before `start()`)."""


class EventContractError(EventError):
    """An event does not match the catalog: unknown type/version or the wrong payload model."""


class PoisonEventError(EventContractError):
    """Raised by a handler for an event that can never succeed (e.g. its payload does not parse).

    Buses dead-letter it at once instead of requeueing, since retrying cannot help.
    """
