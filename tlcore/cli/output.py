"""What every subcommand prints: ``--json`` is exactly one JSON document on stdout."""
from __future__ import annotations

import json


def print_json(payload) -> None:
    print(json.dumps(payload, indent=2, default=str))
