// The target-group builder: all/any groups (nested), `not`, conditions on declared fields with
// every operator of the journey filter, and gate-decision conditions
// ({decision: {purpose, reason, channel?, theme?}}). It reads and writes the journey syntax.
import { el, labelled, select } from "./studio.js";

const OPS = [
  ["eq", "equals"], ["ne", "is not"], ["lt", "less than"], ["le", "at most"],
  ["gt", "greater than"], ["ge", "at least"], ["in", "one of"], ["between", "between"],
  ["exists", "is present"],
];

function fromFilter(node) {
  if (node && (node.all || node.any)) return { group: toGroup(node), wrapped: false };
  return { group: { kind: "all", items: node ? [toItem(node)] : [] }, wrapped: Boolean(node) };
}

function toGroup(node) {
  const kind = node.all ? "all" : "any";
  return { kind, items: (node[kind] || []).map(toItem) };
}

function toItem(node) {
  if (node.not !== undefined) return { ...toItem(node.not), not: !toItem(node.not).not };
  if (node.all || node.any) return { kind: "group", group: toGroup(node), not: false };
  if (node.decision) return { kind: "decision", ...node.decision, not: false };
  if (node.field !== undefined) return { kind: "cond", field: node.field, op: node.op, value: node.value, not: false };
  return { kind: "raw", raw: node, not: false };
}

function itemFilter(item) {
  let node;
  if (item.kind === "group") node = groupFilter(item.group);
  else if (item.kind === "decision") {
    node = { decision: { purpose: item.purpose, reason: item.reason } };
    if (item.channel) node.decision.channel = item.channel;
    if (item.theme) node.decision.theme = item.theme;
  } else if (item.kind === "cond") {
    node = { field: item.field, op: item.op };
    if (item.op !== "exists" || item.value === true || item.value === false) node.value = item.value;
  } else node = item.raw;
  return item.not ? { not: node } : node;
}

function groupFilter(group) {
  return { [group.kind]: group.items.map(itemFilter) };
}

function parseValue(text, op, type) {
  if (op === "exists") return undefined;
  const one = (raw) => {
    const t = raw.trim();
    if (type === "integer" && /^-?\d+$/.test(t)) return parseInt(t, 10);
    if (type === "number" && t !== "" && !Number.isNaN(Number(t))) return Number(t);
    if (type === "boolean") return ["true", "yes", "1"].includes(t.toLowerCase());
    return t;
  };
  if (op === "in" || op === "between") return text.split(",").filter((t) => t.trim() !== "").map(one);
  return one(text);
}

function showValue(value) {
  if (value === undefined || value === null) return "";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

export function filterBuilder(initial, registry, { onChange, legend = "Conditions" } = {}) {
  const state = fromFilter(initial);
  const root = el("div", { class: "filter-builder" });
  const changed = () => onChange && onChange();
  const attributes = Object.keys(registry.attributes || {});

  function notBox(item) {
    const box = el("input", { type: "checkbox", checked: item.not, onchange: (e) => { item.not = e.target.checked; changed(); } });
    return labelled("Not", box);
  }

  function removeButton(list, item, rerender, what) {
    return el("button", { type: "button", class: "small", text: `Remove ${what}`,
      onclick: () => { list.splice(list.indexOf(item), 1); rerender(); changed(); } });
  }

  function condRow(item, list, rerender) {
    const type = () => (registry.attributes || {})[item.field] || "string";
    const field = select(attributes, item.field, { onchange: (e) => { item.field = e.target.value; changed(); } });
    const op = select(OPS, item.op, { onchange: (e) => { item.op = e.target.value; item.value = parseValue(value.value, item.op, type()); changed(); } });
    const value = el("input", { type: "text", value: showValue(item.value),
      oninput: (e) => { item.value = parseValue(e.target.value, item.op, type()); changed(); } });
    return el("li", { class: "condition" }, notBox(item), labelled("Field", field), labelled("Operator", op),
      labelled("Value", value, "for one of or between: separate values with commas"), removeButton(list, item, rerender, "condition"));
  }

  function decisionRow(item, list, rerender) {
    const purposes = Object.keys(registry.purposes || {});
    const set = (key) => (e) => { item[key] = e.target.value || undefined; changed(); };
    return el("li", { class: "condition decision", role: "group", "aria-label": "Gate condition" },
      notBox(item),
      labelled("Purpose", select(purposes, item.purpose, { onchange: set("purpose") })),
      labelled("Channel", select([["", "any channel"], ...(registry.channels || []).map((c) => [c, c])], item.channel || "", { onchange: set("channel") })),
      labelled("Theme", select([["", "any theme"], ...(registry.themes || []).map((t) => [t, t])], item.theme || "", { onchange: set("theme") })),
      labelled("Gate says", select(registry.reasons || [], item.reason, { onchange: set("reason") })),
      removeButton(list, item, rerender, "condition"));
  }

  function rawRow(item, list, rerender) {
    return el("li", { class: "condition" }, notBox(item), el("code", { text: JSON.stringify(item.raw) }),
      removeButton(list, item, rerender, "condition"));
  }

  function groupNode(group, depth, rerender) {
    const items = el("ul", { class: "conditions" });
    const draw = () => {
      items.replaceChildren(...group.items.map((item) => {
        if (item.kind === "cond") return condRow(item, group.items, draw);
        if (item.kind === "decision") return decisionRow(item, group.items, draw);
        if (item.kind === "group") {
          return el("li", { class: "condition" }, notBox(item), groupNode(item.group, depth + 1, draw),
            removeButton(group.items, item, draw, "group"));
        }
        return rawRow(item, group.items, draw);
      }));
    };
    draw();
    const match = select([["all", "all of these"], ["any", "any of these"]], group.kind,
      { onchange: (e) => { group.kind = e.target.value; changed(); } });
    const add = (item) => () => { group.items.push(item()); draw(); changed(); };
    const buttons = el("div", { class: "row" },
      el("button", { type: "button", text: "Add condition", onclick: add(() => ({ kind: "cond", field: attributes[0], op: "eq", value: "", not: false })) }),
      el("button", { type: "button", text: "Add gate condition", onclick: add(() => ({ kind: "decision", purpose: Object.keys(registry.purposes || {})[0], reason: "allowed", not: false })) }),
      depth < 3 ? el("button", { type: "button", text: "Add group", onclick: add(() => ({ kind: "group", group: { kind: "any", items: [] }, not: false })) }) : null);
    return el("fieldset", { class: "group" }, el("legend", { text: depth ? "Group" : legend }),
      labelled("Match", match), items, buttons);
  }

  root.append(groupNode(state.group, 0));
  return {
    node: root,
    value() {
      if (state.wrapped && state.group.items.length === 1 && state.group.kind === "all") return itemFilter(state.group.items[0]);
      return groupFilter(state.group);
    },
  };
}
