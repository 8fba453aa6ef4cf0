"""A journey's step graph drawn as SVG on the server, with live counts the page script updates."""

from __future__ import annotations

from collections import deque
from html import escape
from typing import Any, Final

from markupsafe import Markup

from candor.journeys.definition import JourneyDefinition
from candor.journeys.validate import next_steps, steps_by_id

BOX_W: Final = 210
BOX_H: Final = 70
GAP_X: Final = 40
GAP_Y: Final = 56
PAD: Final = 24


def layers(defn: JourneyDefinition) -> dict[str, int]:
    """Depth of each step from the entry (breadth first); unreachable steps go last."""
    steps = steps_by_id(defn)
    depth: dict[str, int] = {defn.steps[0].id: 0}
    todo = deque([defn.steps[0].id])
    while todo:
        sid = todo.popleft()
        for target in next_steps(steps[sid]).values():
            if target in steps and target not in depth:
                depth[target] = depth[sid] + 1
                todo.append(target)
    last = max(depth.values(), default=0) + 1
    for sid in steps:
        depth.setdefault(sid, last)
    return depth


def _fig(journey_id: str, step_id: str, name: str) -> str:
    return escape(f"journeys/{journey_id}/steps/{step_id}/{name}")


def _num(counts: dict[str, Any], name: str) -> int:
    value = counts.get(name, 0)
    return int(value) if isinstance(value, int) else 0


def draw(defn: JourneyDefinition, figures: dict[str, Any] | None = None) -> Markup:
    """The SVG: a box per step (id, type, here / passed / stopped) and an arrow per exit."""
    figures = figures or {}
    depth = layers(defn)
    rows: dict[int, list[str]] = {}
    for step in defn.steps:
        if step.id not in rows.get(depth[step.id], []):
            rows.setdefault(depth[step.id], []).append(step.id)
    widest = max(len(r) for r in rows.values())
    width = PAD * 2 + widest * BOX_W + (widest - 1) * GAP_X + 80
    height = PAD * 2 + len(rows) * BOX_H + (len(rows) - 1) * GAP_Y
    pos: dict[str, tuple[int, int]] = {}
    for level, ids in rows.items():
        row_w = len(ids) * BOX_W + (len(ids) - 1) * GAP_X
        left = (width - 80 - row_w) // 2
        for index, sid in enumerate(ids):
            pos[sid] = (left + index * (BOX_W + GAP_X), PAD + level * (BOX_H + GAP_Y))
    title = escape(f"Steps of journey {defn.name}")
    parts = [
        f'<svg class="journey" role="img" aria-label="{title}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" '
        'class="arrowhead"/></marker></defs>',
    ]
    steps = steps_by_id(defn)
    for sid, step in steps.items():
        x, y = pos[sid]
        labels: dict[str, list[str]] = {}
        for label, target in next_steps(step).items():
            if target in pos:
                labels.setdefault(target, []).append("" if label == "next" else label)
        for target, names in labels.items():
            tx, ty = pos[target]
            parts.append(_edge(x, y, tx, ty, ", ".join(n for n in names if n)))
    journey_id = defn.id
    for sid, step in steps.items():
        x, y = pos[sid]
        counts = figures.get(sid, {})
        here, passed = _num(counts, "here"), _num(counts, "passed")
        stopped = _num(counts, "stopped_total")
        parts.append(
            f'<g class="step step-{escape(step.type)}"><rect x="{x}" y="{y}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="8"/>'
            f'<text x="{x + 10}" y="{y + 20}" class="step-id">{escape(sid)}</text>'
            f'<text x="{x + BOX_W - 10}" y="{y + 20}" class="step-type">{escape(step.type)}</text>'
            f'<text x="{x + 10}" y="{y + 42}" class="step-counts">here '
            f'<tspan data-fig="{_fig(journey_id, sid, "here")}">{here}</tspan> · passed '
            f'<tspan data-fig="{_fig(journey_id, sid, "passed")}">{passed}</tspan></text>'
            f'<text x="{x + 10}" y="{y + 60}" class="step-counts">stopped '
            f'<tspan data-fig="{_fig(journey_id, sid, "stopped_total")}">{stopped}</tspan>'
            "</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _edge(x: int, y: int, tx: int, ty: int, label: str) -> str:
    """An arrow from one box to another: straight down, or around the right for loops."""
    if ty > y:
        x1, y1, x2, y2 = x + BOX_W // 2, y + BOX_H, tx + BOX_W // 2, ty
        mid = (y1 + y2) // 2
        path = f"M{x1} {y1} C{x1} {mid} {x2} {mid} {x2} {y2}"
        lx, ly = (x1 + x2) // 2 + 4, mid - 4
    else:
        x1, y1, x2, y2 = x + BOX_W, y + BOX_H // 2, tx + BOX_W, ty + BOX_H // 2
        bend = max(x1, x2) + 60
        path = f"M{x1} {y1} C{bend} {y1} {bend} {y2} {x2} {y2}"
        lx, ly = bend - 20, (y1 + y2) // 2
    text = f'<text x="{lx}" y="{ly}" class="edge-label">{escape(label)}</text>' if label else ""
    return f'<path d="{path}" class="edge" marker-end="url(#arrow)"/>{text}'
