"""The platform's limits on circuit documents, the same on every route that takes one.

- Size: a document (and the request body carrying it) is at most `MAX_DOCUMENT_BYTES`,
  16 MiB, counted after decompression for gzip uploads. A 20,000-bus document is about
  3 MiB. Each service's `max_document_bytes` setting can lower or raise it.
- Depth: JSON nested more than `MAX_DOCUMENT_DEPTH` levels is refused (a circuit document
  is about five deep); deeper nesting only serves to exhaust the parser's stack.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_DOCUMENT_DEPTH = 32


def document_depth(value: Any, *, stop_after: int = MAX_DOCUMENT_DEPTH) -> int:
    """How deep `value` nests objects and arrays (a scalar is 0), counted without recursion;
    stops counting once past `stop_after`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > stop_after:
            return deepest
        stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def check_document_depth(value: Any) -> Any:
    if document_depth(value) > MAX_DOCUMENT_DEPTH:
        raise ValueError(f"the document is nested more than {MAX_DOCUMENT_DEPTH} levels deep")
    return value


# A circuit document in a request body: a JSON object of bounded depth.
DocumentObject = Annotated[dict[str, Any], AfterValidator(check_document_depth)]
