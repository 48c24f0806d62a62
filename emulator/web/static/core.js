// The playground page's shared parts: where its API is, what it remembers, and the small
// helpers every part uses. Every text from the bot, a provider or a person is put in the
// page as text (textContent, createTextNode), never as HTML: a product called
// <img onerror=...> shows as those words.

export const BASE = location.pathname.replace(/\/[^/]*$/, "/"); // /play/<token>/

export const state = {
  world: null,
  persona: null,
  channel: null,
  view: null,
  providers: [],
  panel: null,
  seen: {}, // persona -> channel -> messages seen
  dismissed: new Set(),
  command: null, // the chosen command entry
  suggestion: 0,
  modal: null, // {interaction, custom_id}
  refreshing: false,
  again: false,
  viewText: "",
  providersText: "",
  retryAfter: "5",
  openRequests: new Set(),
};

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function safeUrl(url) {
  const text = String(url || "");
  if (/^https?:\/\//i.test(text)) return text;
  if (text.startsWith("api/attachments/")) return text;
  return null;
}

export async function api(method, path, body) {
  const response = await fetch(BASE + path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch (_) {
    data = { error: `the playground answered ${response.status}` };
  }
  if (!response.ok) throw new Error((data && data.error) || `error ${response.status}`);
  return data;
}

export function personaInfo(id) {
  return state.world.personas.find((p) => p.id === id);
}

export function nameOf(id) {
  const user = state.view?.directory?.users?.[id] || state.world.directory.users[id];
  return user ? user.name : "unknown-user";
}

export function languageTag() {
  const persona = personaInfo(state.persona);
  return persona && persona.locale === "hi" ? "hi-IN" : "en-US";
}

export function setError(text) {
  const line = document.getElementById("composer-error");
  line.textContent = text;
  line.hidden = !text;
}

// Set by app.js: redraw what changed (the event stream and every action call it).
export function refreshSoon() {
  setTimeout(() => state.refresher && state.refresher(), 0);
}
