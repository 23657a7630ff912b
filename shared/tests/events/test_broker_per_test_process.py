"""Each test process talks to RabbitMQ on a virtual host of its own (the root conftest's
`amqp_url`), so the tests of two processes running at once (two xdist workers, a benchmark
beside a test run) never take each other's jobs off a queue bound by routing key."""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlparse

import aio_pika

from ampflux_testing.ci import cannot_run


async def test_this_test_process_has_a_virtual_host_of_its_own(amqp_url):
    if shutil.which("rabbitmqctl") is None:
        cannot_run("no rabbitmqctl on this machine to make a virtual host with (a broker elsewhere)")
    vhost = urlparse(amqp_url).path.lstrip("/")
    assert vhost.startswith(f"ampflux-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"), amqp_url
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)  # the host exists and is ours to use
        assert queue.name
