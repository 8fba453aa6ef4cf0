// The journey designer: the journey as its file layout in memory, a dagre-drawn graph and a
// step list (the keyboard and screen-reader path), a settings form per step built from the
// JSON Schema, and the server's own validate, lint, save, simulate, launch and stop.
import { announce, api, confirmDialog, debounce, download, el, errorsText, labelled, readData, select } from "../lib/studio.js";
import { filterBuilder } from "../lib/filter_builder.js";
import { drawGraph } from "../lib/graph.js";
import { exitsOf, isLink, stepForm, stepTypes } from "../lib/schema_form.js";

const data = readData("designer-data");
const registry = readData("studio-registry");
const schema = readData("journey-schema");
const firstPurpose = Object.keys(registry.purposes)[0] || "";
let journey = data.journey || { id: "", name: "", purpose: firstPurpose, fields: [], steps: [] };
let state = data.state;
let people = data.people || 0;
let selected = journey.steps.length ? journey.steps[0].id : null;
let problems = [];

const editable = () => state === "new" || state === "draft";
const $ = (id) => document.getElementById(id);

function templateIds() {
  return [...new Set([...Object.keys(registry.templates), ...Object.keys(journey.templates || {})])];
}

const DEFAULTS = {
  send: () => ({ channel: "email", template: templateIds()[0] || "" }),
  wait: () => ({ duration: "P1D" }),
  branch: (others) => ({ cases: [{ when: { all: [] }, next: others[0] || "" }], default: others[0] || "" }),
  consent: () => ({ channel: "email", template: templateIds()[0] || "", timeout: "P7D" }),
  advertising_block: () => ({ channel: "email" }),
  opt_in: () => ({ channel: "email", template: templateIds()[0] || "", timeout: "P7D" }),
  inform: () => ({ channel: "email", template: templateIds()[0] || "", timeout: "P7D" }),
  store: () => ({ values: {} }),
  transfer: () => ({ channel: "email", template: templateIds()[0] || "" }),
  score: () => ({ model: { features: [], threshold: 1 } }),
};

// --- problems ----------------------------------------------------------------------------

function stepIndexOf(problem) {
  const found = /^steps\[(\d+)\]/.exec(problem.field || "");
  return found ? Number(found[1]) : null;
}

function stepKeyOf(problem) {
  const found = /^steps\[\d+\]\.([A-Za-z_]+)/.exec(problem.field || "");
  return found ? found[1] : null;
}

function problemsOfStep(index) {
  return problems.filter((p) => stepIndexOf(p) === index);
}

function headKeyOf(problem) {
  if (stepIndexOf(problem) !== null) return null;
  return (/^[A-Za-z_]+/.exec(problem.field || "") || [null])[0];
}

function clearProblems(container) {
  container.querySelectorAll(".field-problem").forEach((n) => n.remove());
  container.querySelectorAll("[aria-invalid]").forEach((n) => {
    n.removeAttribute("aria-invalid");
    const kept = (n.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && !id.endsWith("-problem"));
    if (kept.length) n.setAttribute("aria-describedby", kept.join(" "));
    else n.removeAttribute("aria-describedby");
  });
}

function showAtField(container, key, list) {
  const control = container.querySelector(`[data-key="${key}"]`);
  if (!control) return false;
  const holder = control.closest(".field") || control;
  const message = el("p", { class: `field-problem ${list.some((p) => p.severity === "error") ? "error" : "warning"}`, id: `${control.id || key}-problem` },
    list.map((p) => `${p.severity}: ${p.problem}`).join(" · "));
  holder.append(message);
  control.setAttribute("aria-invalid", String(list.some((p) => p.severity === "error")));
  control.setAttribute("aria-describedby", `${control.getAttribute("aria-describedby") || ""} ${message.id}`.trim());
  return true;
}

function placeProblems(container, list, keyOf) {
  const byKey = new Map();
  for (const p of list) {
    const key = keyOf(p);
    if (key) byKey.set(key, [...(byKey.get(key) || []), p]);
  }
  for (const [key, items] of byKey) showAtField(container, key, items);
}

// --- rendering ---------------------------------------------------------------------------

function render() {
  renderHead();
  renderSteps();
  renderEditor();
  renderProblemList();
  renderToolbar();
}

// After a check: problems shown at their fields, in the graph, list and summary; the forms
// are not rebuilt, so typing goes on undisturbed.
function refreshProblems() {
  renderSteps();
  renderProblemList();
  const head = $("head-form");
  clearProblems(head);
  placeProblems(head, problems, headKeyOf);
  const editor = $("step-editor");
  clearProblems(editor);
  const index = journey.steps.findIndex((s) => s.id === selected);
  if (index >= 0) placeProblems(editor, problemsOfStep(index), stepKeyOf);
}

function renderToolbar() {
  for (const button of document.querySelectorAll("[data-edit]")) button.disabled = !editable();
  $("stop-button").disabled = state !== "running";
  $("state").textContent = state === "new" ? "new, not saved" : state;
  const report = $("report-link");
  if (journey.id && state !== "new") {
    report.href = `/team/journeys/${encodeURIComponent(journey.id)}/report`;
    report.hidden = false;
  }
}

function setHead(key, value) {
  if (value === undefined || value === "" || (Array.isArray(value) && !value.length && key !== "fields")) delete journey[key];
  else journey[key] = value;
  changed();
}

function renderHead() {
  const box = $("head-form");
  const disabled = !editable();
  const text = (label, key, hint, attrs = {}) => labelled(label, el("input", { type: "text", value: journey[key] ?? "", "data-key": key, disabled, oninput: (e) => setHead(key, e.target.value), ...attrs }), hint);
  const purposes = Object.keys(registry.purposes).map((p) => [p, `${p} (${registry.purposes[p].kind})`]);
  const fields = el("fieldset", { class: "checks", "data-key": "fields" }, el("legend", { text: "Fields it may read" }),
    ...registry.fields.map((name) => {
      const box = el("input", { type: "checkbox", checked: (journey.fields || []).includes(name), disabled,
        onchange: (e) => setHead("fields", e.target.checked ? [...(journey.fields || []), name] : (journey.fields || []).filter((f) => f !== name)) });
      return el("span", { class: "check" }, box, " ", el("label", { text: name }));
    }));
  fields.querySelectorAll(".check").forEach((span, i) => { const input = span.querySelector("input"); input.id = `field-${i}`; span.querySelector("label").htmlFor = input.id; });
  box.replaceChildren(
    text("Journey id", "id", "letters, digits, _ . -; fixed once saved", { disabled: disabled || state !== "new" }),
    text("Name", "name"),
    labelled("Purpose", select(purposes, journey.purpose, { "data-key": "purpose", disabled, onchange: (e) => setHead("purpose", e.target.value) })),
    fields,
    targetEditor(disabled),
    text("Starts at", "starts_at", "optional: YYYY-MM-DD or a date and time"),
    text("Ends at", "ends_at", "YYYY-MM-DD: the journey and its data end then"),
    text("Longest stay", "expires_after", "an ISO 8601 duration such as P30D"),
    el("details", {}, el("summary", { text: "Advanced" }), text("Fed by connector", "source"), inlineTemplates(disabled)),
  );
  placeProblems(box, problems, headKeyOf);
}

function targetEditor(disabled) {
  const target = journey.target;
  const mode = !target ? "everyone" : target.audience && Object.keys(target).length === 1 ? "audience" : "conditions";
  const holder = el("div", { class: "target-detail" });
  const modes = [["everyone", "everyone (the gate still decides)"], ["audience", "a saved audience"], ["conditions", "people matching conditions"]];
  const chooser = select(modes, mode, { disabled, "data-key": "target", onchange: (e) => {
    if (e.target.value === "everyone") setHead("target", undefined);
    else if (e.target.value === "audience") setHead("target", { audience: registry.audiences[0] || "" });
    else setHead("target", { all: [] });
    renderHead();
  } });
  if (mode === "audience") {
    const names = [...new Set([...registry.audiences, target.audience])];
    holder.append(labelled("Audience", select(names, target.audience, { disabled, onchange: (e) => setHead("target", { audience: e.target.value }) }),
      "saved audiences are built under Audiences"));
  } else if (mode === "conditions") {
    const builder = filterBuilder(target, registry, { legend: "Who enters", onChange: () => setHead("target", builder.value()) });
    holder.append(builder.node);
  }
  return el("div", { class: "target" }, labelled("Who enters", chooser), holder);
}

function inlineTemplates(disabled) {
  const area = el("textarea", { rows: 6, class: "code", "data-key": "templates", disabled });
  area.value = journey.templates ? JSON.stringify(journey.templates, null, 2) : "";
  area.addEventListener("input", () => {
    try {
      setHead("templates", area.value.trim() ? JSON.parse(area.value) : undefined);
      area.removeAttribute("aria-invalid");
    } catch {
      area.setAttribute("aria-invalid", "true");
    }
  });
  return labelled("Templates kept in the journey (JSON)", area, "shared templates live in the content library");
}

function stepSummaries() {
  return journey.steps.map((step, index) => {
    const own = problemsOfStep(index);
    const following = journey.steps[index + 1] ? journey.steps[index + 1].id : null;
    return {
      id: step.id, type: step.type, exits: exitsOf(schema, step, following),
      errors: own.filter((p) => p.severity === "error").length,
      warnings: own.filter((p) => p.severity === "warning").length,
    };
  });
}

function renderSteps() {
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focus : null;
  const summaries = stepSummaries();
  drawGraph($("graph"), summaries, selected, (id) => { selected = id; render(); focusEditor(); });
  const list = $("step-list");
  list.replaceChildren(...summaries.map((s, index) => {
    const leads = s.exits.length ? `leads to: ${s.exits.map(([k, t]) => `${k} → ${t}`).join(", ")}` : "leaves the journey";
    const status = s.errors ? `${s.errors} error(s)` : s.warnings ? `${s.warnings} warning(s)` : "no problems";
    const move = (delta) => () => {
      const [step] = journey.steps.splice(index, 1);
      journey.steps.splice(index + delta, 0, step);
      changed();
      render();
      // Keep the keyboard on the moved step: the same button, or the other way at an end.
      const pick = (way) => $("step-list").querySelector(`[data-focus="${way}:${s.id}"]`);
      const same = pick(delta < 0 ? "up" : "down");
      (same && !same.disabled ? same : pick(delta < 0 ? "down" : "up"))?.focus();
    };
    return el("li", { class: s.id === selected ? "selected" : "" },
      el("button", { type: "button", class: "link", "data-focus": `edit:${s.id}`, "aria-current": s.id === selected ? "true" : undefined,
        onclick: () => { selected = s.id; render(); focusEditor(); } }, `${s.id}`),
      el("span", { class: "meta" }, ` ${s.type}; ${leads}; ${status}`),
      editable() ? el("span", { class: "row" },
        el("button", { type: "button", class: "small", "data-move": "-1", "data-focus": `up:${s.id}`, "aria-label": `Move ${s.id} up`, disabled: index === 0, onclick: move(-1), text: "Up" }),
        el("button", { type: "button", class: "small", "data-move": "1", "data-focus": `down:${s.id}`, "aria-label": `Move ${s.id} down`, disabled: index === summaries.length - 1, onclick: move(1), text: "Down" }),
        el("button", { type: "button", class: "small danger", "aria-label": `Remove ${s.id}`, text: "Remove", onclick: () => removeStep(index) })) : null);
  }));
  if (!summaries.length) list.append(el("li", { class: "meta", text: "No steps yet: use Add step." }));
  if (focused) list.querySelector(`[data-focus="${focused}"]`)?.focus();
}

function removeStep(index) {
  const [gone] = journey.steps.splice(index, 1);
  if (selected === gone.id) selected = journey.steps[Math.max(0, index - 1)]?.id ?? null;
  changed();
  render();
  $("add-step-button").focus();
}

function renameStep(step, value) {
  const old = step.id;
  step.id = value;
  for (const other of journey.steps) {
    for (const key of Object.keys(other)) if (isLink(key) && other[key] === old) other[key] = value;
    for (const c of other.cases || []) if (c.next === old) c.next = value;
  }
  selected = value;
}

function renderEditor() {
  const box = $("step-editor");
  const index = journey.steps.findIndex((s) => s.id === selected);
  if (index < 0) {
    box.replaceChildren(el("h2", { id: "step-h", text: "Step" }), el("p", { class: "meta", text: "Select a step in the list or the graph." }));
    return;
  }
  const step = journey.steps[index];
  const ctx = {
    stepIds: journey.steps.map((s) => s.id), templates: templateIds(), themes: registry.themes, registry,
    set: (key, value) => { if (value === undefined) delete step[key]; else step[key] = value; changed(); renderSteps(); },
  };
  const idInput = el("input", { type: "text", value: step.id, "data-key": "id", disabled: !editable(),
    onchange: (e) => { renameStep(step, e.target.value); changed(); render(); } });
  const form = stepForm(schema, step, ctx);
  if (!editable()) form.querySelectorAll("input, select, textarea, button").forEach((n) => { n.disabled = true; });
  box.replaceChildren(el("h2", { id: "step-h", tabindex: "-1" }, `Step ${step.id} (${step.type})`), labelled("Step id", idInput), form);
  placeProblems(box, problemsOfStep(index), stepKeyOf);
}

function focusEditor() {
  $("step-h")?.focus();
}

function renderProblemList() {
  const list = $("problem-list");
  const errors = problems.filter((p) => p.severity === "error").length;
  $("problem-summary").textContent = problems.length ? `${errors} error(s), ${problems.length - errors} warning(s)` : "No problems found.";
  list.replaceChildren(...problems.map((p) => {
    const index = stepIndexOf(p);
    const where = index !== null && journey.steps[index] ? `step ${journey.steps[index].id}` : p.field;
    const go = index !== null && journey.steps[index] ? el("button", { type: "button", class: "link", text: where, onclick: () => { selected = journey.steps[index].id; render(); focusEditor(); } }) : el("strong", { text: where });
    return el("li", { class: p.severity }, go, `: ${p.severity}: ${p.problem}`);
  }));
}

// --- server calls ------------------------------------------------------------------------

async function runCheck() {
  const { data: answer } = await api("/team/studio/journeys/check", { definition: journey });
  problems = answer.errors || [];
  refreshProblems();
  return problems;
}

const scheduleCheck = debounce(runCheck, 450);

function changed() {
  scheduleCheck();
}

async function validate() {
  const found = await runCheck();
  const errors = found.filter((p) => p.severity === "error").length;
  announce(errors ? `Validation found ${errors} error(s) and ${found.length - errors} warning(s).` : `Valid: ${found.length} warning(s), no errors.`, errors ? "error" : "ok");
}

async function save() {
  const { ok, data: answer } = await api("/team/studio/journeys/save", { definition: journey });
  if (!ok) {
    problems = (answer.errors || []).map((e) => ({ severity: "error", ...e }));
    render();
    announce(`Not saved: ${errorsText(answer)}`, "error");
    return false;
  }
  state = "draft";
  history.replaceState(null, "", `/team/journeys/${encodeURIComponent(answer.id)}/edit`);
  problems = answer.warnings || [];
  render();
  announce(`Saved as version ${answer.version}.`, "ok");
  return true;
}

function showResult(title, rows) {
  const box = $("results");
  box.replaceChildren(el("h2", { id: "results-h", text: title }), ...rows);
  box.hidden = false;
}

function reasonTable(caption, byReason) {
  const entries = Object.entries(byReason || {});
  if (!entries.length) return el("p", { class: "meta", text: `${caption}: none` });
  return el("table", {}, el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Gate reason" }), el("th", { scope: "col", text: "People" }))),
    el("tbody", {}, ...entries.map(([reason, n]) => el("tr", {}, el("th", { scope: "row", text: reason }), el("td", { class: "num", text: String(n) })))));
}

async function simulate() {
  const { ok, data: answer } = await api("/team/studio/journeys/simulate", { definition: journey });
  if (!ok) {
    announce(`Cannot simulate: ${errorsText(answer)}`, "error");
    return null;
  }
  const entering = answer.enter.entered;
  showResult("Simulation", [
    el("p", {}, el("strong", { text: String(entering) }), " people would enter now."),
    reasonTable("Everyone in the target group, by what the gate says now", answer.enter.by_reason),
    ...answer.steps.map((s) => reasonTable(`Step ${s.step} (${s.type}${s.channel ? `, ${s.channel}` : ""})`, s.by_reason)),
  ]);
  announce(`Simulated: ${entering} people would enter now.`, "ok");
  return entering;
}

async function launchJourney() {
  const entering = await simulate();
  if (entering === null) return;
  const name = journey.name || journey.id;
  if (!(await confirmDialog(`Launch “${name}” now? ${entering} people would enter it.`, `Launch to ${entering} people`))) {
    announce("Launch cancelled.");
    return;
  }
  const { ok, data: answer } = await api("/team/studio/journeys/launch", { definition: journey });
  if (!ok) {
    problems = (answer.errors || []).map((e) => ({ severity: "error", ...e }));
    render();
    announce(`Not launched: ${errorsText(answer)}`, "error");
    return;
  }
  state = "running";
  people = answer.entered;
  history.replaceState(null, "", `/team/journeys/${encodeURIComponent(answer.id)}/edit`);
  render();
  announce(`Launched: ${answer.entered} people entered.`, "ok");
}

async function stopJourney() {
  const name = journey.name || journey.id;
  if (!(await confirmDialog(`Stop “${name}”? ${people} people in it now will leave it.`, `Stop for ${people} people`))) {
    announce("Stop cancelled.");
    return;
  }
  const { ok, data: answer } = await api(`/team/studio/journeys/${encodeURIComponent(journey.id)}/stop`, {});
  if (!ok) {
    announce(`Not stopped: ${errorsText(answer)}`, "error");
    return;
  }
  state = answer.state || "stopped";
  people = 0;
  render();
  announce("Stopped: queued messages cancelled, the journey's working data removed.", "ok");
}

async function downloadYaml() {
  const response = await api("/team/studio/journeys/yaml", { definition: journey }, { raw: true });
  if (!response.ok) {
    announce(`Cannot download: ${errorsText(await response.json())}`, "error");
    return;
  }
  download(`${journey.id || "journey"}.yaml`, await response.text());
  announce("YAML downloaded.", "ok");
}

async function uploadYaml(file) {
  const text = await file.text();
  const { ok, data: answer } = await api("/team/studio/journeys/parse", { text, filename: file.name });
  if (!ok) {
    announce(`Cannot read ${file.name}: ${errorsText(answer)}`, "error");
    return;
  }
  const keepId = state !== "new" ? journey.id : null;
  journey = answer.definition;
  if (keepId && journey.id !== keepId) announce(`The file's id ${journey.id} differs; saving stores it under that id.`);
  selected = journey.steps[0]?.id ?? null;
  render();
  await runCheck();
  announce(`Loaded ${file.name}: ${journey.steps.length} steps.`, "ok");
}

function addStep(type, id) {
  const others = journey.steps.map((s) => s.id);
  const step = { id, type, ...(DEFAULTS[type] ? DEFAULTS[type](others) : {}) };
  const at = journey.steps.findIndex((s) => s.id === selected);
  journey.steps.splice(at < 0 ? journey.steps.length : at + 1, 0, step);
  selected = id;
  changed();
  render();
}

function setUpAddDialog() {
  const dialog = $("add-dialog");
  const type = $("add-type");
  type.replaceChildren(...stepTypes(schema).map((t) => el("option", { value: t, text: t })));
  $("add-step-button").addEventListener("click", () => {
    $("add-id").value = "";
    $("add-problem").textContent = "";
    dialog.showModal();
    type.focus();
  });
  $("add-form").addEventListener("submit", (event) => {
    if (event.submitter && event.submitter.value === "cancel") return;
    const id = $("add-id").value.trim() || `${type.value}_${journey.steps.length + 1}`;
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(id) || journey.steps.some((s) => s.id === id)) {
      event.preventDefault();
      $("add-problem").textContent = "Step id: letters, digits, _ . - (not starting with a digit), not used yet.";
      $("add-id").focus();
      return;
    }
    addStep(type.value, id);
    // The dialog gives focus back to Add step as it closes; the new step's form takes it.
    dialog.addEventListener("close", focusEditor, { once: true });
  });
}

function start() {
  setUpAddDialog();
  const actions = { save, validate, simulate, launch: launchJourney, stop: stopJourney, download: downloadYaml, upload: () => $("upload-file").click() };
  for (const button of document.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => actions[button.dataset.action]());
  }
  $("upload-file").addEventListener("change", (e) => { if (e.target.files[0]) uploadYaml(e.target.files[0]); e.target.value = ""; });
  render();
  if (journey.steps.length || state !== "new") runCheck();
}

start();
