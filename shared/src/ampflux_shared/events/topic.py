"""AMQP topic-exchange matching of routing keys against binding patterns."""

from __future__ import annotations

from functools import lru_cache


def topic_matches(pattern: str, routing_key: str) -> bool:
    """`*` matches exactly one dot-separated word, `#` zero or more, as RabbitMQ does."""
    return _match(tuple(pattern.split(".")), tuple(routing_key.split(".")))


@lru_cache(maxsize=4096)
def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        # Let `#` swallow 0..n words; memoised, so repeated `#` stays cheap.
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
