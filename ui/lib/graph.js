// The step graph drawn as SVG, laid out by dagre (a layered, Sugiyama-style layout): one box
// per step, one labelled arrow per exit. Clicking a box selects the step; keyboard and screen
// reader users have the step list beside it, which carries the same information.
import dagre from "@dagrejs/dagre";

const NS = "http://www.w3.org/2000/svg";
const BOX_W = 190;
const BOX_H = 58;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// steps: [{id, type, exits: [[label, target]], errors, warnings}], selected: id or null.
export function drawGraph(container, steps, selected, onSelect) {
  if (!steps.length) {
    const empty = document.createElement("p");
    empty.className = "meta";
    empty.textContent = "The graph appears as you add steps.";
    container.replaceChildren(empty);
    return;
  }
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 46, edgesep: 12, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(steps.map((s) => s.id));
  for (const step of steps) g.setNode(step.id, { width: BOX_W, height: BOX_H });
  for (const step of steps) {
    for (const [label, target] of step.exits) {
      if (ids.has(target)) g.setEdge(step.id, target, { label, width: label.length * 6.5, height: 14 }, `${step.id}:${label}`);
    }
  }
  dagre.layout(g);
  const { width = 200, height = 100 } = g.graph();
  const root = svg("svg", {
    viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`, width: "100%", "data-width": Math.ceil(width),
    role: "img", "aria-label": `Step graph: ${steps.length} steps; the step list describes each step and where it leads`,
    class: "graph",
  });
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#4d5560" }));
  defs.append(marker);
  root.append(defs);
  for (const e of g.edges()) {
    const edge = g.edge(e);
    const d = edge.points.map((p, i) => `${i ? "L" : "M"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(" ");
    root.append(svg("path", { d, class: "edge", "marker-end": "url(#arrow)" }));
    if (edge.label && edge.label !== "next") root.append(svg("text", { x: edge.x, y: edge.y + 4, class: "edge-label", "text-anchor": "middle" }, edge.label));
  }
  for (const step of steps) {
    const n = g.node(step.id);
    const state = step.errors ? "error" : step.warnings ? "warning" : "ok";
    const box = svg("g", { class: `node ${state}${step.id === selected ? " selected" : ""}`, transform: `translate(${n.x - BOX_W / 2},${n.y - BOX_H / 2})`, "data-step": step.id });
    box.append(svg("rect", { width: BOX_W, height: BOX_H, rx: 8 }));
    box.append(svg("text", { x: 12, y: 23, class: "node-id" }, step.id.length > 22 ? `${step.id.slice(0, 21)}…` : step.id));
    const badge = step.errors ? ` · ${step.errors} error${step.errors > 1 ? "s" : ""}` : step.warnings ? ` · ${step.warnings} warning${step.warnings > 1 ? "s" : ""}` : "";
    box.append(svg("text", { x: 12, y: 43, class: "node-type" }, `${step.type}${badge}`));
    box.addEventListener("click", () => onSelect(step.id));
    root.append(box);
  }
  container.replaceChildren(root);
}
