"""The envelope and the catalog: what producers may emit and consumers can parse."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from ampflux_shared.events import (
    CATALOG,
    EVENT_REGISTRY,
    CompanyCreated,
    EventContractError,
    EventEnvelope,
    PoisonEventError,
    UserRegistered,
    make_event,
    parse_payload,
)
from ampflux_shared.events.catalog import EventCatalog, EventPayload

CATALOG_TYPES = {
    "auth.company.created",
    "auth.user.registered",
    "auth.user.updated",
    "auth.user.deactivated",
    "project.project.created",
    "project.project.deleted",
    "project.member.added",
    "project.member.removed",
    "project.circuit_version.created",
    "simulation.run.queued",
    "simulation.run.completed",
    "simulation.run.failed",
    "simulation.run.cancelled",
    "traveler.traveler.released",
    "traveler.step.completed",
    "traveler.traveler.on_hold",
    "traveler.traveler.completed",
    "traveler.unit.failed",
    "ai.message.completed",
    "ai.pipeline_execution.queued",
}


def user_registered() -> UserRegistered:
    return UserRegistered(
        user_id=uuid.uuid4(), company_id=uuid.uuid4(), email="ada@example.com", name="Ada", roles=["engineer"]
    )


def test_an_event_survives_the_wire_unchanged():
    payload = user_registered()
    actor = uuid.uuid4()
    envelope = make_event(
        "auth.user.registered",
        payload,
        producer="auth",
        company_id=payload.company_id,
        actor_id=actor,
        request_id="r-1",
    )

    back = EventEnvelope.from_json(envelope.to_json())

    assert back == envelope
    assert back.version == 1 and back.producer == "auth" and back.actor_id == actor and back.request_id == "r-1"
    assert back.time.tzinfo is not None and back.time.utcoffset() == timedelta(0)
    assert parse_payload(back) == payload
    assert isinstance(parse_payload(back), UserRegistered)


def test_time_is_normalised_to_utc_and_must_be_aware():
    base = dict(id=uuid.uuid4(), type="auth.company.created", version=1, producer="auth", payload={})
    paris = datetime(2026, 1, 2, 13, 0, tzinfo=timezone(timedelta(hours=1)))

    assert EventEnvelope(time=paris, **base).time == datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert EventEnvelope(time=paris, **base).time.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError):
        EventEnvelope(time=datetime(2026, 1, 2, 12, 0), **base)


@pytest.mark.parametrize("bad_type", ["auth.user", "Auth.user.registered", "auth.user.*", "auth.user.registered.x", ""])
def test_the_type_must_be_a_plain_three_part_routing_key(bad_type):
    with pytest.raises(ValidationError):
        EventEnvelope(id=uuid.uuid4(), type=bad_type, version=1, time=datetime.now(UTC), producer="auth", payload={})


def test_a_payload_that_is_not_the_types_model_is_refused():
    company = CompanyCreated(company_id=uuid.uuid4(), name="Acme")

    with pytest.raises(EventContractError, match=r"not a payload of auth\.user\.registered"):
        make_event("auth.user.registered", company, producer="auth")


def test_an_unknown_event_type_is_refused():
    with pytest.raises(EventContractError, match="unknown event type"):
        make_event("auth.user.exploded", user_registered(), producer="auth")


def test_the_catalog_holds_every_contract_at_version_1():
    assert {t for t, _ in EVENT_REGISTRY} == CATALOG_TYPES
    assert all(v == 1 for _, v in EVENT_REGISTRY)


def test_parsing_an_unknown_version_is_a_contract_error():
    envelope = make_event("auth.company.created", CompanyCreated(company_id=uuid.uuid4(), name="Acme"), producer="auth")
    newer = envelope.model_copy(update={"version": 99})

    with pytest.raises(EventContractError, match=r"unknown event auth\.company\.created v99"):
        parse_payload(newer)


def test_a_payload_that_does_not_match_its_declared_type_is_poison():
    envelope = make_event("auth.company.created", CompanyCreated(company_id=uuid.uuid4(), name="Acme"), producer="auth")
    broken = envelope.model_copy(update={"payload": {"name": "no id"}})

    with pytest.raises(PoisonEventError):
        parse_payload(broken)


def test_consumers_ignore_fields_added_by_a_newer_producer():
    envelope = make_event("auth.company.created", CompanyCreated(company_id=uuid.uuid4(), name="Acme"), producer="auth")
    wire = envelope.model_dump(mode="json")
    wire["payload"]["country"] = "FR"
    wire["trace_parent"] = "00-abc"

    parsed = parse_payload(EventEnvelope.model_validate(wire))

    assert parsed == CompanyCreated(company_id=envelope.payload["company_id"], name="Acme")


def test_a_new_version_sits_next_to_the_old_one():
    catalog = EventCatalog()

    class V1(EventPayload):
        name: str

    class V2(EventPayload):
        full_name: str

    catalog.register("auth.company.renamed", 1, V1)
    catalog.register("auth.company.renamed", 2, V2)

    assert make_event("auth.company.renamed", V2(full_name="x"), producer="auth", catalog=catalog).version == 2
    assert make_event("auth.company.renamed", V1(name="x"), producer="auth", catalog=catalog).version == 1
    with pytest.raises(EventContractError, match="already registered"):
        catalog.register("auth.company.renamed", 1, V2)
    assert ("auth.company.renamed", 1) not in CATALOG
