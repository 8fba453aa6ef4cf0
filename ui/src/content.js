// The template editor: per language and channel what the marketer writes (MJML e-mail with
// subject and preheader, SMS with a live GSM-7/UCS-2 segment count, WhatsApp's approved
// template), lint as they type, previews at desktop and phone width, test sends, save.
import { announce, api, debounce, el, errorsText, labelled, readData, select } from "../lib/studio.js";

const STARTER = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text font-size="20px">Hello {{ first_name }},</mj-text>
        <mj-text>Write your message here.</mj-text>
        <mj-text font-size="12px"><a href="{{ unsubscribe_url }}">Unsubscribe</a> · <a href="{{ preferences_url }}">Preferences</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
const CHANNEL_NAMES = { email: "E-mail", sms: "SMS", whatsapp: "WhatsApp" };
const BLANK = { email: () => ({ subject: "", mjml: STARTER }), sms: () => ({ text: "Reply STOP to opt out." }), whatsapp: () => ({ text: "", parameters: [] }) };

const stored = readData("content-data").source;
const source = stored || { id: "", kind: "marketing", languages: { en: { email: BLANK.email() } } };
let language = Object.keys(source.languages)[0];
let counts = {};
let findings = [];
const $ = (id) => document.getElementById(id);

function channels() {
  return Object.keys(source.languages[Object.keys(source.languages)[0]]).filter((c) => source.languages[Object.keys(source.languages)[0]][c]);
}

function setPart(channel, key, value) {
  const part = source.languages[language][channel];
  if (value === undefined || value === "" || (Array.isArray(value) && !value.length)) delete part[key];
  else part[key] = value;
  scheduleCheck();
}

function text(label, channel, key, { rows = 0, hint } = {}) {
  const part = source.languages[language][channel];
  const value = Array.isArray(part[key]) ? part[key].join("\n") : part[key] ?? "";
  const attrs = { value, "data-part": `${channel}.${key}`, oninput: (e) => setPart(channel, key, key === "parameters" ? e.target.value.split("\n").filter(Boolean) : e.target.value) };
  const control = rows ? el("textarea", { rows, class: key === "mjml" ? "code" : "", ...attrs }) : el("input", { type: "text", ...attrs });
  if (rows) control.value = value;
  return labelled(label, control, hint);
}

function channelBox(channel) {
  const legend = el("legend", { text: CHANNEL_NAMES[channel] });
  if (channel === "email") {
    return el("fieldset", {}, legend, text("Subject", "email", "subject"), text("Preheader", "email", "preheader", { hint: "the line inboxes show after the subject" }),
      text("Body (MJML)", "email", "mjml", { rows: 14, hint: "responsive e-mail markup; {{ first_name }} and other declared fields, {{ unsubscribe_url }}" }),
      text("Text part", "email", "text", { rows: 4, hint: "optional: generated from the body when left empty" }));
  }
  if (channel === "sms") {
    return el("fieldset", {}, legend, text("SMS text", "sms", "text", { rows: 4 }),
      el("p", { class: "sms-count", id: "sms-count", "aria-live": "polite" }, smsCount("sms")));
  }
  return el("fieldset", {}, legend, text("Approved template name", "whatsapp", "template_name", { hint: "as approved by the provider, such as event_invite" }),
    text("Template language", "whatsapp", "language", { hint: "such as de or en_US" }),
    text("Parameters", "whatsapp", "parameters", { rows: 3, hint: "one per line, in order: {{ first_name }}" }),
    text("Message text as approved", "whatsapp", "text", { rows: 4 }),
    el("p", { class: "sms-count", id: "whatsapp-count", "aria-live": "polite" }, smsCount("whatsapp")));
}

function smsCount(channel) {
  const c = (counts[language] || {})[channel];
  if (!c) return "Counting…";
  return `${c.encoding}: ${c.units} characters, ${c.segments} segment${c.segments === 1 ? "" : "s"} (${c.per_segment} per segment), for the sample`;
}

function render() {
  const first = Object.keys(source.languages)[0];
  const tabs = el("div", { class: "tabs", role: "group", "aria-label": "Languages" },
    ...Object.keys(source.languages).map((lang) => el("button", { type: "button", "aria-pressed": String(lang === language), text: lang.toUpperCase() + (lang === first ? " (default)" : ""),
      onclick: () => { language = lang; render(); } })));
  const newLang = el("input", { type: "text", maxlength: 2, size: 3, id: "new-language" });
  const addLang = el("button", { type: "button", class: "small", text: "Add language", onclick: () => {
    const code = newLang.value.trim().toLowerCase();
    if (!/^[a-z]{2}$/.test(code) || source.languages[code]) { announce("Language: two letters such as de, not added yet.", "error"); return; }
    source.languages[code] = JSON.parse(JSON.stringify(source.languages[language]));
    language = code;
    render();
    scheduleCheck();
  } });
  const channelChecks = el("fieldset", { class: "checks" }, el("legend", { text: "Channels" }),
    ...Object.keys(CHANNEL_NAMES).map((c) => {
      const id = `channel-${c}`;
      return el("span", { class: "check" }, el("input", { type: "checkbox", id, checked: channels().includes(c), onchange: (e) => {
        for (const lang of Object.values(source.languages)) {
          if (e.target.checked) lang[c] = lang[c] || BLANK[c]();
          else delete lang[c];
        }
        render();
        scheduleCheck();
      } }), el("label", { for: id, text: CHANNEL_NAMES[c] }));
    }));
  $("content-form").replaceChildren(
    labelled("Template id", el("input", { type: "text", value: source.id, disabled: Boolean(stored), oninput: (e) => { source.id = e.target.value.trim(); scheduleCheck(); } }), "lower-case letters, digits, _ or -; journeys name it"),
    labelled("Used for", select([["marketing", "marketing (needs a way out)"], ["service", "service messages"]], source.kind, { onchange: (e) => { source.kind = e.target.value; scheduleCheck(); } })),
    channelChecks, tabs, el("div", { class: "row" }, labelled("New language", newLang), addLang),
    ...channels().map(channelBox));
  $("test-channel").replaceChildren(...channels().map((c) => el("option", { value: c, text: CHANNEL_NAMES[c] })));
  placeFindings();
}

function placeFindings() {
  document.querySelectorAll("[data-part]").forEach((n) => n.removeAttribute("aria-invalid"));
  for (const f of findings) {
    if (f.language !== language) continue;
    const key = f.part === "html" ? "mjml" : f.part || "text";
    const control = document.querySelector(`[data-part="${f.channel}.${key}"]`) || document.querySelector(`[data-part="${f.channel}.text"]`);
    if (control && f.severity === "error") control.setAttribute("aria-invalid", "true");
  }
}

async function check() {
  const { ok, data } = await api("/team/studio/content/check", { source: { ...source, id: source.id || "draft" } });
  if (!ok) {
    findings = [];
    $("lint-summary").textContent = `Cannot check yet: ${errorsText(data)}`;
    $("findings").replaceChildren();
    return;
  }
  findings = data.findings;
  counts = data.counts;
  for (const c of ["sms", "whatsapp"]) if ($(`${c}-count`)) $(`${c}-count`).textContent = smsCount(c);
  $("lint-summary").textContent = findings.length ? `${findings.length} finding(s)` : "No findings: ready to use.";
  $("findings").replaceChildren(...findings.map((f) => el("li", { class: f.severity },
    `${f.language ? f.language.toUpperCase() + " " : ""}${CHANNEL_NAMES[f.channel] || ""}${f.part ? ` ${f.part}` : ""}: ${f.message}`)));
  placeFindings();
}

const scheduleCheck = debounce(check, 300);

async function preview() {
  const box = $("preview");
  box.hidden = false;
  const shown = [];
  for (const channel of channels()) {
    const { ok, data } = await api("/team/studio/content/preview", { source, language, channel });
    if (!ok) { shown.push(el("p", { class: "problem", text: `${CHANNEL_NAMES[channel]}: ${errorsText(data)}` })); continue; }
    if (channel === "email") shown.push(el("p", {}, el("strong", { text: "Subject: " }), data.subject));
    else shown.push(el("p", {}, el("strong", { text: `${CHANNEL_NAMES[channel]}: ` }), data.text, el("br"), el("span", { class: "meta", text: `${data.sms.encoding}, ${data.sms.segments} segment(s)` })));
  }
  $("preview-text").replaceChildren(...shown);
  $("frames").hidden = !channels().includes("email");
  if (channels().includes("email")) {
    const form = $("preview-form");
    form.elements.source.value = JSON.stringify(source);
    form.elements.language.value = language;
    for (const target of ["preview-desktop", "preview-phone"]) {
      form.target = target;
      form.submit();
    }
  }
  announce(`Preview of ${language.toUpperCase()} shown.`, "ok");
  $("preview-h").scrollIntoView();
}

async function sendTest() {
  const address = $("test-address").value.trim();
  const channel = $("test-channel").value;
  const { ok, data } = await api("/team/studio/content/send-test", { source, language, channel, address });
  announce(ok ? `Test sent by ${CHANNEL_NAMES[channel]}.` : `Test not sent: ${errorsText(data)}`, ok ? "ok" : "error");
}

async function save() {
  const { ok, data } = await api("/team/studio/content/save", { source });
  if (!ok) { announce(`Not saved: ${errorsText(data)}`, "error"); return; }
  history.replaceState(null, "", `/team/content/${encodeURIComponent(data.id)}`);
  announce(`Saved template ${data.id} (${data.channels.join(", ")}).`, "ok");
}

render();
$("preview-button").addEventListener("click", preview);
$("send-test-button").addEventListener("click", sendTest);
$("save-button").addEventListener("click", save);
check();
