"""Work around a missing optional dependency of httpcore without changing behaviour.

httpcore asks `sniffio` which event loop runs on *every* lock and event it creates; when
sniffio is not installed it retries the import each time, a failed import costing a scan
of sys.path (~80 µs, about a dozen times per proxied request). The gateway only runs on
asyncio, which is what httpcore assumes without sniffio anyway, so a stub answering
"asyncio" gives the same result without the scan. A real sniffio, when installed, wins.
"""

from __future__ import annotations

import sys
import types


def ensure_sniffio() -> None:
    try:
        import sniffio  # noqa: F401
    except ImportError:
        stub = types.ModuleType("sniffio")
        stub.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
        sys.modules["sniffio"] = stub
