// Building the page: elements from data, never from HTML strings (a profile's values come
// from upstream APIs and are shown as text, whatever they hold), and the shared bits of UI.

/** An element: `attributes` are set as attributes, except `text` (its text), `on<event>`
 * (listeners) and `className`; `children` are nodes or strings (text), nulls skipped. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

/** An SVG element with attributes. */
export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

/** Replace what `node` holds. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A table that scrolls sideways on a narrow screen. */
export function table(caption, headers, rows, attributes = {}) {
  return el("div", { className: "scroll" },
    el("table", attributes,
      caption ? el("caption", { text: caption }) : null,
      el("thead", {}, el("tr", {}, headers.map((h) => (h === ""
        ? el("th", { scope: "col" }, el("span", { className: "visually-hidden", text: "Actions" }))
        : el("th", { scope: "col", text: h }))))),
      el("tbody", {}, rows)));
}

/** A word with its colour (the stylesheet's `b-<word>`). */
export function badge(word) {
  return el("span", { className: `badge b-${word}`, text: word });
}

/** A term and its value, for a `<dl>`. */
export function fact(term, value) {
  return [el("dt", { text: term }), el("dd", { text: value ?? "—" })];
}

/** A number for people: `1234.5` → `1,234.5`; null → `—`. */
export function number(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return value.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A ratio as a percentage; null → `—`. */
export function percent(ratio, digits = 1) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "—";
  return `${(ratio * 100).toFixed(digits)}%`;
}

/** A duration in milliseconds; null → `—`. */
export function millis(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${number(ms, 1)} ms`;
}

/** A value of a profile as text: lists joined, objects as JSON. */
export function show(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(show).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

const banner = () => document.getElementById("message");
let bannerTimer = 0;

/** Say something in the page's message line; errors stay until the next message. */
export function say(text, kind = "info") {
  const node = banner();
  clearTimeout(bannerTimer);
  // One live region, always in the page (a region shown only when it speaks is often not
  // announced); empty, it takes no room.
  node.textContent = text;
  node.className = `message ${kind}`;
  if (kind !== "error") bannerTimer = setTimeout(() => { node.textContent = ""; }, 8000);
}

/** Ask before doing something that cannot be undone. With `typed`, the operator must type
 * that text before Confirm is enabled. Resolves to whether they confirmed. */
export function confirmAction({ title, text, action = "Confirm", typed = null }) {
  const dialog = document.getElementById("confirm");
  const ok = document.getElementById("confirm-ok");
  const cancel = document.getElementById("confirm-cancel");
  const input = document.getElementById("confirm-typed");
  const label = document.getElementById("confirm-typed-label");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  ok.textContent = action;
  label.hidden = typed === null;
  input.value = "";
  if (typed !== null) {
    document.getElementById("confirm-typed-prompt").textContent = `Type ${typed} to confirm:`;
  }
  ok.disabled = typed !== null;
  input.oninput = () => { ok.disabled = input.value.trim() !== typed; };
  return new Promise((resolve) => {
    const done = (answer) => {
      ok.onclick = cancel.onclick = dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    ok.onclick = () => done(true);
    cancel.onclick = () => done(false);
    dialog.onclose = () => done(false);
    input.onkeydown = (event) => {
      if (event.key === "Enter" && !ok.disabled) { event.preventDefault(); done(true); }
    };
    dialog.showModal();
    (typed !== null ? input : cancel).focus();
  });
}

/** The values of a form's named fields, trimmed, empty ones left out. */
export function fields(form) {
  const values = {};
  for (const [name, value] of new FormData(form)) {
    const text = String(value).trim();
    if (text !== "") values[name] = text;
  }
  return values;
}

/** The identifiers of a subject form: `user_id`, `email`, `phone` and `handles`. */
export function identifiers(values) {
  const subject = {};
  for (const key of ["user_id", "email", "phone"]) if (values[key]) subject[key] = values[key];
  const handles = {};
  for (const key of ["github", "x", "mastodon"]) if (values[key]) handles[key] = values[key];
  if (Object.keys(handles).length) subject.handles = handles;
  return subject;
}

/** Disable a button while `work` runs. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    // A disabled button loses the focus; give it back if nothing else took it.
    if (button.isConnected && (document.activeElement === document.body || !document.activeElement)) button.focus();
  }
}
