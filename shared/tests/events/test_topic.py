"""Routing-key matching of the in-process bus follows RabbitMQ topic exchange rules."""

import pytest

from ampflux_shared.events.topic import topic_matches


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("auth.user.registered", "auth.user.registered", True),
        ("auth.user.registered", "auth.user.updated", False),
        ("auth.user.*", "auth.user.updated", True),
        ("auth.*", "auth.user.updated", False),
        ("*.user.*", "auth.user.updated", True),
        ("*.*.*", "auth.user.updated", True),
        ("auth.#", "auth.user.updated", True),
        ("auth.#", "auth", True),
        ("#", "project.member.added", True),
        ("#.added", "project.member.added", True),
        ("#.added", "project.member.removed", False),
        ("project.#.created", "project.circuit_version.created", True),
        ("project.#.created", "project.created", True),
        ("project.*.created", "project.created", False),
        ("simulation.run.#", "simulation.run", True),
    ],
)
def test_topic_matching(pattern, key, expected):
    assert topic_matches(pattern, key) is expected
