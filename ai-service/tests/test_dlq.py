"""`python -m ampflux_ai.dlq`: the pipeline queue's dead letters are listed without being taken
and replayed to the queue, on a real broker (issue 9 finding 7; the scenario is
`ampflux_testing.dead_letters.check_list_then_replay`)."""

from __future__ import annotations

import pytest

from ampflux_testing.dead_letters import check_list_then_replay


@pytest.mark.rabbitmq
async def test_a_dead_letter_of_the_pipeline_queue_is_listed_then_replayed(amqp_url, tmp_path):
    await check_list_then_replay(amqp_url, "ai", tmp_path, queue_setting="PIPELINE_QUEUE")
