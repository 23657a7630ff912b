"""The circuit document (FORMAT.md v1): one model for the whole platform, its validation and file loading."""

from .canonical import canonical_json, document_sha256, json_safe
from .duty_ratings import BreakerRatings, BusbarRatings, CableRatings, TransformerRatings
from .io import CircuitFileError, CircuitTooLargeError, load_circuit_bytes, load_circuit_file
from .limits import MAX_DOCUMENT_BYTES, MAX_DOCUMENT_DEPTH, DocumentObject, check_document_depth
from .model import (
    AsyncGenerator,
    Bus,
    Case,
    CircuitDocument,
    Converter,
    ExtGrid,
    Fault,
    Generator,
    Line,
    LineFault,
    Motor,
    Scenario,
    Study,
    Switch,
    Transformer,
    Transformer3W,
    WindDfig,
)
from .problems import CircuitProblem, CircuitValidationError
from .validation import CASES, FAULTS, parse_circuit, validate_circuit

__all__ = [
    "CASES",
    "FAULTS",
    "MAX_DOCUMENT_BYTES",
    "MAX_DOCUMENT_DEPTH",
    "AsyncGenerator",
    "BreakerRatings",
    "Bus",
    "BusbarRatings",
    "CableRatings",
    "Case",
    "CircuitDocument",
    "CircuitFileError",
    "CircuitProblem",
    "CircuitTooLargeError",
    "CircuitValidationError",
    "Converter",
    "DocumentObject",
    "ExtGrid",
    "Fault",
    "Generator",
    "Line",
    "LineFault",
    "Motor",
    "Scenario",
    "Study",
    "Switch",
    "Transformer",
    "Transformer3W",
    "TransformerRatings",
    "WindDfig",
    "canonical_json",
    "check_document_depth",
    "document_sha256",
    "json_safe",
    "load_circuit_bytes",
    "load_circuit_file",
    "parse_circuit",
    "validate_circuit",
]
