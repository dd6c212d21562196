"""A bench's results as JSON: the numbers, when, and on what machine."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any


def write_results(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Write `record` to `path` (folders made as needed), stamped with the time and machine."""
    stamped = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **record,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(stamped, indent=1))
