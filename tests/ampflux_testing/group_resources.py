"""A costly resource one group of tests shares, alive only while that group runs.

The e2e stack and the quick fault suite's own instances are a dozen processes each. As
session fixtures they lived until the session's end: on an xdist worker that is every other
test it runs after the group, each process idling on the CPUs the other workers need, and
their stop (seconds of draining) was paid in the run's tail. A `GroupResource` is started by
the first test that asks for its fixture and stopped as soon as the next test to run on this
worker does not ask for it (the root conftest's teardown hook). The group's tests run one
after another on one worker (`xdist_group`), so it starts once; should a test that needs it
come later all the same, it starts again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["GroupResource", "stop_unneeded"]

_RESOURCES: list[GroupResource[object]] = []


class GroupResource(Generic[T]):
    def __init__(self, fixture: str) -> None:
        self.fixture = fixture  # the name of the fixture that hands it out
        self._running: Iterator[T] | None = None
        self._value: T | None = None
        _RESOURCES.append(self)  # type: ignore[arg-type]  # kept only to be stopped

    @property
    def running(self) -> bool:
        return self._running is not None

    def get(self, start: Callable[[], Iterator[T]]) -> T:
        """The resource, started by `start` (a generator: set up, yield it, tear down) if it is not running."""
        if self._running is None:
            running = start()
            self._value = next(running)
            self._running = running
        return self._value  # type: ignore[return-value]  # set with _running

    def stop(self) -> None:
        running, self._running, self._value = self._running, None, None
        if running is None:
            return
        try:
            next(running)
        except StopIteration:
            return
        raise RuntimeError(f"the {self.fixture} resource yielded twice")


def stop_unneeded(next_fixtures: frozenset[str] | None) -> None:
    """Stop every running resource the next test (None: none left) does not ask for."""
    errors: list[BaseException] = []
    for resource in _RESOURCES:
        if resource.running and (next_fixtures is None or resource.fixture not in next_fixtures):
            try:
                resource.stop()
            except BaseException as exc:  # stop the others all the same, then report
                errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BaseExceptionGroup("errors while stopping the group resources", errors)
