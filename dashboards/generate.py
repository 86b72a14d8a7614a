"""Turn the dashboard builders into the JSON Grafana loads, deterministically.

``render()`` returns ``{file name: JSON text}``; ``write(out_dir)`` writes it (``yujing grafana
generate``) and ``drift(out_dir)`` lists files whose committed text differs from a fresh render.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from yujing.dashboards import embedded_board, pipeline_board, situation_board
from yujing.dashboards.situation_board import DEFAULT_INCIDENT_BASE

GENERATED_DIR = Path(__file__).resolve().parent / "generated"
# The embedded deployment's board sits in its own folder, so a Grafana for the embedded store can be
# provisioned with it alone (deploy/grafana/embedded/); the compose Grafana loads all of generated/.
EMBEDDED = "embedded/situation-embedded.json"


def _number_panels(board: model.Dashboard) -> None:
    """Stable panel ids (1, 2, ...) in layout order; Grafana needs them for links and repeats."""
    next_id = 1
    for panel in board.panels or []:
        panel.id_val = next_id
        next_id += 1
        for inner in getattr(panel, "panels", None) or []:
            inner.id_val = next_id
            next_id += 1


def dashboards(incident_base: str = DEFAULT_INCIDENT_BASE) -> dict[str, model.Dashboard]:
    """The dashboard models by file name."""
    boards = {
        "situation.json": situation_board.build(incident_base).build(),
        "pipeline.json": pipeline_board.build().build(),
        EMBEDDED: embedded_board.build(incident_base).build(),
    }
    for board in boards.values():
        _number_panels(board)
    return boards


def to_dict(board: model.Dashboard) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(board, cls=JSONEncoder))
    return data


def render(incident_base: str = DEFAULT_INCIDENT_BASE) -> dict[str, str]:
    return {
        name: json.dumps(to_dict(board), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        for name, board in dashboards(incident_base).items()
    }


def write(out_dir: Path = GENERATED_DIR, incident_base: str = DEFAULT_INCIDENT_BASE) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(incident_base).items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def drift(out_dir: Path = GENERATED_DIR) -> list[str]:
    """Names of generated files that are missing or differ from a fresh render (empty: no drift)."""
    return [name for name, text in render().items() if _read(out_dir / name) != text]


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None
