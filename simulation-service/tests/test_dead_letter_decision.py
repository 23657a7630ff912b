"""A dead-lettered job fails its run only when its solves spent the delivery limit.

RabbitMQ 3.10 counts every return of a message towards x-delivery-limit, also when the
channel holding it closed (a broker restart): `make faults` found a healthy study failed as
`dead_lettered` after four broker restarts while its one solve was still running. Now the
job goes back to the work queue unless the run was claimed more often than the limit allows.
"""

from __future__ import annotations

import uuid

from sqlalchemy import update

from ampflux_shared.events.work_queue import JobOutcome
from ampflux_simulation.jobs.job import Job
from ampflux_simulation.jobs.runner import JobRunner
from ampflux_simulation.models import StudyRun

LIMIT = "broker reason 'delivery_limit' (x-delivery-limit reached or rejected as poison)"


async def test_a_limit_spent_by_redeliveries_requeues_and_one_spent_by_solves_fails(tmp_path, auth, helpers):
    settings = helpers.study_settings(tmp_path, test_solve_delay_s=60.0, job_delivery_limit=3)
    async with helpers.running_api(settings, auth) as api:
        run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
        await api.wait(run["id"], {"running"}, timeout=30)
        state = api.app.state
        runner = JobRunner(state.db, state.relay.outbox, settings, state.simulation_metrics)
        job = Job(run_id=uuid.UUID(run["id"]), message_id=uuid.uuid4())

        # One solve so far (attempts 1 of the 3 allowed): the broker's count came from elsewhere.
        assert await runner.dead_lettered(job, LIMIT, True) is JobOutcome.RETRY
        running = (await api.client.get(f"/simulations/{run['id']}", headers=api.headers)).json()
        assert running["status"] == "running" and running["attempts"] == 1

        # Claimed once per delivery past the limit: a poison job, the run fails.
        async with state.db.session() as session:
            await session.execute(update(StudyRun).where(StudyRun.id == job.run_id).values(attempts=4))
        assert await runner.dead_lettered(job, LIMIT, True) is JobOutcome.DONE
        failed = (await api.client.get(f"/simulations/{run['id']}", headers=api.headers)).json()
        assert failed["status"] == "failed" and failed["error"]["code"] == "dead_lettered"
        assert "after 4 attempt(s)" in failed["error"]["detail"]


async def test_a_job_rejected_as_poison_fails_its_run_whatever_its_attempts(tmp_path, auth, helpers):
    settings = helpers.study_settings(tmp_path, test_solve_delay_s=60.0)
    async with helpers.running_api(settings, auth) as api:
        run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
        await api.wait(run["id"], {"running"}, timeout=30)
        state = api.app.state
        runner = JobRunner(state.db, state.relay.outbox, settings, state.simulation_metrics)
        job = Job(run_id=uuid.UUID(run["id"]), message_id=uuid.uuid4())
        assert await runner.dead_lettered(job, "broker reason 'rejected'", False) is JobOutcome.DONE
        failed = (await api.client.get(f"/simulations/{run['id']}", headers=api.headers)).json()
        assert failed["status"] == "failed" and failed["error"]["code"] == "dead_lettered"
