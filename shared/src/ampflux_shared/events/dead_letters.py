"""Dead letters kept, inspected and replayed: the parking queue and the `dlq` command.

Every consuming queue `<queue>` dead-letters into `<queue>.dlq` (see `rabbitmq.py`). A
consumer of a DLQ that meets a message it cannot even read must not ack it away: it moves it,
body and headers unchanged, to `<queue>.parking` (`park`), where it waits for a person.

`python -m ampflux_<service>.dlq list|replay` is this module's `main` with the service's
broker URL and default queue (a three-line module per service):

- `list [--parking] [--limit N]`: one JSON line per message, oldest first, without taking any
  (they are held unacked while read, then returned when the channel closes);
- `replay [--parking] (--all | --id MESSAGE_ID ...)`: publish each chosen message back to
  its work queue (through the default exchange, so only that queue gets it; the broker's
  x-death/x-delivery-count headers dropped) and remove it from the DLQ once confirmed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

# Headers the broker writes on dead-lettering and redelivery: a replay starts afresh.
BROKER_HEADERS = (
    "x-death",
    "x-delivery-count",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
)


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dlq"


def parking_queue_name(queue: str) -> str:
    return f"{queue}.parking"


async def declare_parking_queue(channel: AbstractChannel, queue: str) -> None:
    await channel.declare_queue(parking_queue_name(queue), durable=True, arguments={"x-queue-type": "quorum"})


def copy_message(message: AbstractIncomingMessage, *, drop_broker_headers: bool = False) -> aio_pika.Message:
    """A new message with the same body, properties and headers (broker ones optional)."""
    headers = dict(message.headers or {})
    if drop_broker_headers:
        for name in BROKER_HEADERS:
            headers.pop(name, None)
    return aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
    )


async def park(channel: AbstractChannel, queue: str, message: AbstractIncomingMessage) -> None:
    """Keep an unreadable dead letter of `queue`, headers and all, in `<queue>.parking`.

    `channel` must have publisher confirms on: the caller acks the dead letter only after
    this returns, so a message is in one of the two queues at every moment.
    """
    await declare_parking_queue(channel, queue)
    await channel.default_exchange.publish(copy_message(message), routing_key=parking_queue_name(queue))


@dataclass(frozen=True)
class DeadLetter:
    message_id: str | None
    type: str | None
    reason: str | None
    deaths: int
    headers: dict[str, Any]
    body: str

    @classmethod
    def of(cls, message: AbstractIncomingMessage, body_chars: int = 500) -> DeadLetter:
        headers = dict(message.headers or {})
        deaths = headers.get("x-death")
        first = deaths[0] if isinstance(deaths, list | tuple) and deaths else None
        reason = first.get("reason") if isinstance(first, dict) else headers.get("x-first-death-reason")
        count = first.get("count") if isinstance(first, dict) else None
        return cls(
            message_id=message.message_id,
            type=message.type,
            reason=_text(reason) if reason is not None else None,
            deaths=count if isinstance(count, int) else 0,
            headers={k: _jsonable(v) for k, v in headers.items()},
            body=message.body[:body_chars].decode("utf-8", errors="replace"),
        )


async def list_dead_letters(url: str, queue: str, *, parking: bool = False, limit: int = 100) -> list[DeadLetter]:
    source = parking_queue_name(queue) if parking else dead_letter_queue_name(queue)
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        q = await channel.get_queue(source, ensure=True)
        found: list[DeadLetter] = []
        # Held unacked while we read (so each is seen once); closing the channel returns them.
        while len(found) < limit:
            message = await q.get(no_ack=False, fail=False)
            if message is None:
                break
            found.append(DeadLetter.of(message))
        return found


async def replay_dead_letters(
    url: str, queue: str, *, parking: bool = False, message_ids: Sequence[str] = (), replay_all: bool = False
) -> int:
    """Move the chosen dead letters back to `queue`; returns how many were replayed."""
    if not replay_all and not message_ids:
        raise ValueError("name the messages to replay (--id) or pass --all")
    source = parking_queue_name(queue) if parking else dead_letter_queue_name(queue)
    wanted = set(message_ids)
    replayed = 0
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        q = await channel.get_queue(source, ensure=True)
        while True:
            message = await q.get(no_ack=False, fail=False)
            if message is None:
                break
            if not replay_all and message.message_id not in wanted:
                continue  # held unacked until the channel closes, then back in its queue
            await channel.default_exchange.publish(copy_message(message, drop_broker_headers=True), routing_key=queue)
            await message.ack()
            replayed += 1
    return replayed


# --- the command --------------------------------------------------------------------------


def build_parser(prog: str, default_queue: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Inspect and replay a queue's dead letters.")
    parser.add_argument("--queue", default=default_queue, help=f"the work queue (default {default_queue})")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print the dead letters as JSON lines, without taking them")
    listing.add_argument("--parking", action="store_true", help="the parking queue (unreadable dead letters)")
    listing.add_argument("--limit", type=int, default=100)
    replay = commands.add_parser("replay", help="send dead letters back to the work queue")
    replay.add_argument("--parking", action="store_true", help="from the parking queue")
    chosen = replay.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--all", action="store_true", dest="replay_all")
    chosen.add_argument("--id", action="append", dest="message_ids", default=[], metavar="MESSAGE_ID")
    return parser


async def run_command(url: str, args: argparse.Namespace) -> int:
    if args.command == "list":
        letters = await list_dead_letters(url, args.queue, parking=args.parking, limit=args.limit)
        for letter in letters:
            print(json.dumps(letter.__dict__, default=str))
        return 0
    count = await replay_dead_letters(
        url, args.queue, parking=args.parking, message_ids=args.message_ids, replay_all=args.replay_all
    )
    print(json.dumps({"replayed": count, "queue": args.queue}))
    return 0


def main(url: str, default_queue: str, argv: Sequence[str] | None = None, *, prog: str = "dlq") -> int:
    args = build_parser(prog, default_queue).parse_args(argv)
    if not url:
        print(f"{prog} needs the service's AMQP URL (its *_AMQP_URL setting)", file=sys.stderr)
        return 2
    return asyncio.run(run_command(url, args))


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
