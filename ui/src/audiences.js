// The audience builder: conditions on declared fields and on gate decisions, and a live count
// (a status region) of who may be reached for the chosen purpose, channel and theme.
import { announce, api, confirmDialog, debounce, el, errorsText, labelled, readData, select } from "../lib/studio.js";
import { filterBuilder } from "../lib/filter_builder.js";

const registry = readData("studio-registry");
const stored = readData("audience-data").audience;
const audience = stored || { id: "", name: "", filter: { all: [] }, purpose: Object.keys(registry.purposes)[0] || "" };
const $ = (id) => document.getElementById(id);

function slug(text) {
  return text.toLowerCase().normalize("NFKD").replace(/[^\w\s-]/g, "").trim().replace(/[\s-]+/g, "_").replace(/^(\d)/, "_$1").slice(0, 64);
}

function body() {
  const out = { id: audience.id || slug(audience.name) || "audience", name: audience.name || "Unnamed", filter: builder.value(), purpose: audience.purpose };
  if (audience.channel) out.channel = audience.channel;
  if (audience.theme) out.theme = audience.theme;
  return out;
}

let builder;
let generation = 0;

async function recount() {
  const mine = ++generation;
  const { ok, data } = await api("/team/studio/audiences/count", body());
  if (mine !== generation) return;
  const box = $("count");
  if (!ok) {
    box.replaceChildren(el("p", { class: "problem", text: `Cannot count: ${errorsText(data)}` }));
    return;
  }
  const reasons = Object.entries(data.by_reason);
  box.replaceChildren(
    el("p", {}, el("strong", { "data-count": "reachable", text: String(data.reachable) }), ` of ${data.total} may be reached`,
      audience.channel ? ` by ${audience.channel}` : "", audience.theme ? ` about ${audience.theme}` : "", ` for ${audience.purpose}.`),
    el("p", {}, el("strong", { "data-count": "not_reachable", text: String(data.not_reachable) }), " may not:"),
    reasons.length ? el("ul", {}, ...reasons.map(([r, n]) => el("li", {}, `${r}: `, el("span", { "data-reason": r, text: String(n) })))) : el("p", { class: "meta", text: "nobody is stopped." }),
  );
}

const scheduleCount = debounce(recount, 300);

function render() {
  const set = (key) => (e) => { audience[key] = e.target.value || undefined; scheduleCount(); };
  builder = filterBuilder(audience.filter, registry, { legend: "Who is in it", onChange: scheduleCount });
  $("audience-form").replaceChildren(
    labelled("Audience name", el("input", { type: "text", value: audience.name, oninput: set("name") })),
    builder.node,
    el("fieldset", { class: "checks" }, el("legend", { text: "Count who may be reached for" }),
      labelled("Purpose", select(Object.keys(registry.purposes), audience.purpose, { onchange: set("purpose") })),
      labelled("Channel", select([["", "any channel"], ...registry.channels.map((c) => [c, c])], audience.channel || "", { onchange: set("channel") })),
      labelled("Theme", select([["", "no theme"], ...registry.themes.map((t) => [t, t])], audience.theme || "", { onchange: set("theme") }))),
  );
}

async function save() {
  const { ok, data } = await api("/team/studio/audiences/save", body());
  if (!ok) {
    announce(`Not saved: ${errorsText(data)}`, "error");
    return;
  }
  audience.id = data.id;
  history.replaceState(null, "", `/team/audiences/${encodeURIComponent(data.id)}`);
  announce(`Saved as audience ${data.id}; journeys can now use it under “Who enters”.`, "ok");
}

async function remove() {
  if (!(await confirmDialog(`Delete the audience “${audience.name}”? Journeys that use it will fail validation.`, "Delete"))) return;
  const { ok, data } = await api(`/team/studio/audiences/${encodeURIComponent(audience.id)}/delete`, {});
  if (!ok) announce(`Not deleted: ${errorsText(data)}`, "error");
  else location.href = "/team/audiences";
}

render();
$("save-audience").addEventListener("click", save);
$("delete-audience")?.addEventListener("click", remove);
recount();
