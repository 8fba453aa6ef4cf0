// A step's settings form, built from the journey JSON Schema (`candor journey schema`): every
// setting of every step type is editable. Step links become lists of step ids, templates and
// themes lists of known ones, enums lists of choices, nested structures a JSON field (branch
// cases get their own editor with the condition builder).
import { el, labelled, nextId, select } from "./studio.js";
import { filterBuilder } from "./filter_builder.js";

const SKIP = new Set(["id", "type"]);

export function stepVariant(schema, type) {
  const ref = schema.properties.steps.items.discriminator.mapping[type];
  return schema.$defs[ref.split("/").pop()];
}

export function stepTypes(schema) {
  return Object.keys(schema.properties.steps.items.discriminator.mapping);
}

function plain(prop) {
  // The non-null alternative of an optional property, and whether null is allowed.
  if (prop.anyOf) {
    const real = prop.anyOf.filter((p) => p.type !== "null");
    return { spec: real.length === 1 ? real[0] : prop, nullable: prop.anyOf.length > real.length };
  }
  return { spec: prop, nullable: false };
}

export function isLink(key) {
  return key === "next" || key === "default" || key.startsWith("on_");
}

function fieldFor(key, prop, value, ctx) {
  const { spec, nullable } = plain(prop);
  const title = prop.title || key;
  const hint = prop.description || (spec.examples ? `for example ${spec.examples.join(", ")}` : undefined);
  const optional = nullable || !ctx.required.has(key);
  const set = (v) => ctx.set(key, v);
  const empty = optional ? [["", key === "next" ? "(the following step)" : "(none)"]] : [];
  if (isLink(key)) {
    const ids = ctx.stepIds.filter((id) => id !== ctx.stepId);
    return labelled(title, select([...empty, ...ids.map((i) => [i, i])], value ?? "", { "data-key": key, onchange: (e) => set(e.target.value || undefined) }), hint);
  }
  if (key === "template") {
    const known = [...new Set([...ctx.templates, ...(value ? [value] : [])])];
    return labelled(title, select([...empty, ...known.map((t) => [t, t])], value ?? "", { "data-key": key, onchange: (e) => set(e.target.value || undefined) }), hint);
  }
  if (key === "theme") {
    const known = [...new Set([...ctx.themes, ...(value ? [value] : [])])];
    return labelled(title, select([...empty, ...known.map((t) => [t, t])], value ?? "", { "data-key": key, onchange: (e) => set(e.target.value || undefined) }), hint);
  }
  if (spec.enum) {
    return labelled(title, select([...empty, ...spec.enum.map((v) => [v, v])], value ?? "", { "data-key": key, onchange: (e) => set(e.target.value || undefined) }), hint);
  }
  if (spec.type === "boolean") {
    return labelled(title, el("input", { type: "checkbox", checked: Boolean(value), "data-key": key, onchange: (e) => set(e.target.checked || undefined) }), hint);
  }
  if (spec.type === "integer" || spec.type === "number") {
    return labelled(title, el("input", { type: "number", step: spec.type === "integer" ? "1" : "any", value: value ?? "", "data-key": key,
      oninput: (e) => set(e.target.value === "" ? undefined : Number(e.target.value)) }), hint);
  }
  if (spec.type === "string") {
    return labelled(title, el("input", { type: "text", value: value ?? "", "data-key": key, oninput: (e) => set(e.target.value === "" ? undefined : e.target.value) }), hint);
  }
  if (key === "cases") return casesEditor(value || [], ctx);
  return jsonField(title, value, set, hint, key);
}

function jsonField(title, value, set, hint, key) {
  const area = el("textarea", { rows: 5, "data-key": key, class: "code" });
  area.value = value === undefined ? "" : JSON.stringify(value, null, 2);
  area.addEventListener("input", () => {
    try {
      set(area.value.trim() === "" ? undefined : JSON.parse(area.value));
      area.removeAttribute("aria-invalid");
    } catch {
      area.setAttribute("aria-invalid", "true");
    }
  });
  return labelled(`${title} (JSON)`, area, hint);
}

function casesEditor(cases, ctx) {
  const box = el("fieldset", { class: "cases", "data-key": "cases" }, el("legend", { text: "Cases (the first that holds decides)" }));
  const list = el("ol");
  const draw = () => {
    list.replaceChildren(...cases.map((c, index) => {
      const builder = filterBuilder(c.when, ctx.registry, { legend: `Case ${index + 1}: when`,
        onChange: () => { c.when = builder.value(); ctx.set("cases", cases); } });
      const next = select(ctx.stepIds.filter((i) => i !== ctx.stepId).map((i) => [i, i]), c.next,
        { onchange: (e) => { c.next = e.target.value; ctx.set("cases", cases); } });
      return el("li", {}, builder.node, labelled("Then go to", next),
        el("button", { type: "button", class: "small", text: "Remove case", onclick: () => { cases.splice(index, 1); draw(); ctx.set("cases", cases); } }));
    }));
  };
  draw();
  const add = el("button", { type: "button", text: "Add case", onclick: () => {
    cases.push({ when: { all: [] }, next: ctx.stepIds.find((i) => i !== ctx.stepId) || "" });
    draw();
    ctx.set("cases", cases);
  } });
  box.append(list, add);
  return box;
}

// The form for one step; `ctx.set(key, value)` writes a setting (undefined removes it).
export function stepForm(schema, step, ctx) {
  const variant = stepVariant(schema, step.type);
  const required = new Set(variant.required || []);
  const form = el("div", { class: "step-form", id: nextId("step-form") });
  if (variant.description) form.append(el("p", { class: "meta", text: variant.description }));
  for (const [key, prop] of Object.entries(variant.properties)) {
    if (SKIP.has(key)) continue;
    form.append(fieldFor(key, prop, step[key], { ...ctx, required, stepId: step.id }));
  }
  return form;
}

// Where a step can lead (as the server's next_steps): [label, target] in order.
export function exitsOf(schema, step, following) {
  const variant = stepVariant(schema, step.type);
  const out = [];
  if (variant && variant.properties.next !== undefined) {
    const target = step.next || following;
    if (target) out.push(["next", target]);
  }
  for (const key of Object.keys(variant ? variant.properties : {})) {
    if (key.startsWith("on_") && step[key]) out.push([key, step[key]]);
  }
  (step.cases || []).forEach((c, i) => c && c.next && out.push([`case ${i + 1}`, c.next]));
  if (step.type === "branch" && step.default) out.push(["default", step.default]);
  return out;
}
