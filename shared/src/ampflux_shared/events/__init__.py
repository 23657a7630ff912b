"""Domain events: envelope and catalog, the bus (RabbitMQ or in-process), outbox and inbox.

Wiring a service (README.md next to this file has the whole recipe)::

    tables = EventTables(metadata)                     # once, next to the service's models
    bus = create_bus(settings.amqp_url, registry=metrics_registry)
    await bus.start()
    relay = OutboxRelay(database, bus, tables, registry=metrics_registry)
    await relay.start()
    await bus.subscribe("project", ["auth.user.*"], consume_once(database, Inbox(tables), "project.users", on_user))
"""

from .bus import EventBus, Handler, create_bus
from .catalog import (
    CATALOG,
    EVENT_REGISTRY,
    CircuitVersionCreated,
    CompanyCreated,
    EventCatalog,
    EventPayload,
    ProjectCreated,
    ProjectDeleted,
    ProjectMemberAdded,
    ProjectMemberRemoved,
    SimulationRunCancelled,
    SimulationRunCompleted,
    SimulationRunFailed,
    SimulationRunQueued,
    UserDeactivated,
    UserRegistered,
    UserUpdated,
    parse_payload,
)
from .envelope import EventEnvelope, make_event
from .errors import BusUnavailableError, EventContractError, EventError, PoisonEventError, PublishError
from .inbox import Inbox, consume_once
from .inprocess import InProcessBroker, InProcessBus, get_in_process_bus
from .metrics import EventMetrics, event_metrics
from .outbox import Outbox, OutboxRelay
from .publisher import EventPublisher
from .rabbitmq import RabbitMQBus
from .tables import EventTables

__all__ = [
    "CATALOG",
    "EVENT_REGISTRY",
    "BusUnavailableError",
    "CircuitVersionCreated",
    "CompanyCreated",
    "EventBus",
    "EventCatalog",
    "EventContractError",
    "EventEnvelope",
    "EventError",
    "EventMetrics",
    "EventPayload",
    "EventPublisher",
    "EventTables",
    "Handler",
    "InProcessBroker",
    "InProcessBus",
    "Inbox",
    "Outbox",
    "OutboxRelay",
    "PoisonEventError",
    "ProjectCreated",
    "ProjectDeleted",
    "ProjectMemberAdded",
    "ProjectMemberRemoved",
    "PublishError",
    "RabbitMQBus",
    "SimulationRunCancelled",
    "SimulationRunCompleted",
    "SimulationRunFailed",
    "SimulationRunQueued",
    "UserDeactivated",
    "UserRegistered",
    "UserUpdated",
    "consume_once",
    "create_bus",
    "event_metrics",
    "get_in_process_bus",
    "make_event",
    "parse_payload",
]
