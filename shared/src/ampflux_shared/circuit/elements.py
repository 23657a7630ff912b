"""The elements the data checks look at, each with its index in the document (for paths)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .model import (
    AsyncGenerator,
    Bus,
    CircuitDocument,
    Converter,
    ExtGrid,
    Generator,
    Line,
    Motor,
    Scenario,
    Switch,
    Transformer,
    Transformer3W,
    WindDfig,
)

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class IndexedElements:
    buses: list[tuple[int, Bus]] = field(default_factory=list)
    ext_grids: list[tuple[int, ExtGrid]] = field(default_factory=list)
    lines: list[tuple[int, Line]] = field(default_factory=list)
    transformers: list[tuple[int, Transformer]] = field(default_factory=list)
    transformers3w: list[tuple[int, Transformer3W]] = field(default_factory=list)
    generators: list[tuple[int, Generator]] = field(default_factory=list)
    motors: list[tuple[int, Motor]] = field(default_factory=list)
    converters: list[tuple[int, Converter]] = field(default_factory=list)
    wind_dfig: list[tuple[int, WindDfig]] = field(default_factory=list)
    async_generators: list[tuple[int, AsyncGenerator]] = field(default_factory=list)
    switches: list[tuple[int, Switch]] = field(default_factory=list)
    scenarios: list[tuple[int, Scenario]] = field(default_factory=list)

    @classmethod
    def of_document(cls, doc: CircuitDocument) -> IndexedElements:
        return cls(
            buses=list(enumerate(doc.buses)),
            ext_grids=list(enumerate(doc.ext_grids)),
            lines=list(enumerate(doc.lines)),
            transformers=list(enumerate(doc.transformers)),
            transformers3w=list(enumerate(doc.transformers3w)),
            generators=list(enumerate(doc.generators)),
            motors=list(enumerate(doc.motors)),
            converters=list(enumerate(doc.converters)),
            wind_dfig=list(enumerate(doc.wind_dfig)),
            async_generators=list(enumerate(doc.async_generators)),
            switches=list(enumerate(doc.switches)),
            scenarios=list(enumerate(doc.scenarios)),
        )

    @classmethod
    def salvage(cls, data: Mapping[str, object]) -> IndexedElements:
        """The entries of an invalid document that are valid on their own.

        One bad cable should not hide a transformer rated for the wrong voltage: the
        data checks still run on everything that can be read.
        """
        return cls(
            buses=_valid_entries(Bus, data.get("buses")),
            ext_grids=_valid_entries(ExtGrid, data.get("ext_grids")),
            lines=_valid_entries(Line, data.get("lines")),
            transformers=_valid_entries(Transformer, data.get("transformers")),
            transformers3w=_valid_entries(Transformer3W, data.get("transformers3w")),
            generators=_valid_entries(Generator, data.get("generators")),
            motors=_valid_entries(Motor, data.get("motors")),
            converters=_valid_entries(Converter, data.get("converters")),
            wind_dfig=_valid_entries(WindDfig, data.get("wind_dfig")),
            async_generators=_valid_entries(AsyncGenerator, data.get("async_generators")),
            switches=_valid_entries(Switch, data.get("switches")),
            scenarios=_valid_entries(Scenario, data.get("scenarios")),
        )

    def bus_kv(self) -> dict[str, float]:
        kv = {bus.id: bus.vn_kv for _, bus in self.buses}
        if len(kv) == len(self.buses):
            return kv  # no duplicate id: the usual case, in one pass
        kv = {}
        for _, bus in self.buses:
            kv.setdefault(bus.id, bus.vn_kv)  # a duplicate id is reported elsewhere; the first one counts
        return kv


def _valid_entries(model: type[M], raw: object) -> list[tuple[int, M]]:
    if not isinstance(raw, list):
        return []
    valid = []
    for index, entry in enumerate(raw):
        try:
            valid.append((index, model.model_validate(entry)))
        except ValidationError:
            continue  # the whole-document validation has already reported why
    return valid
