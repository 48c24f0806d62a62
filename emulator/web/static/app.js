// The playground page: one member at a time in the emulated guild, as Discord shows it.
// Every text from the bot, a provider or a person is put in the page as text (textContent,
// createTextNode), never as HTML: a product called <img onerror=...> shows as those words.
"use strict";

const BASE = location.pathname.replace(/\/[^/]*$/, "/"); // /play/<token>/
const state = {
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

// -- helpers ---------------------------------------------------------------------------

function el(tag, props, ...children) {
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

function safeUrl(url) {
  const text = String(url || "");
  if (/^https?:\/\//i.test(text)) return text;
  if (text.startsWith("api/attachments/")) return text;
  return null;
}

async function api(method, path, body) {
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

function personaInfo(id) {
  return state.world.personas.find((p) => p.id === id);
}

function nameOf(id) {
  const user = state.view?.directory?.users?.[id] || state.world.directory.users[id];
  return user ? user.name : "unknown-user";
}

function languageTag() {
  const persona = personaInfo(state.persona);
  return persona && persona.locale === "hi" ? "hi-IN" : "en-US";
}

// -- Discord's markdown, as text nodes -------------------------------------------------

const INLINE = new RegExp(
  [
    "(```[\\s\\S]*?```)",
    "(`[^`\\n]+`)",
    "(\\*\\*[\\s\\S]+?\\*\\*)",
    "(__[\\s\\S]+?__)",
    "(\\*[^*\\n]+\\*)",
    "(\\b_[^_\\n]+_\\b)",
    "(~~[\\s\\S]+?~~)",
    "(\\|\\|[\\s\\S]+?\\|\\|)",
    "(<@!?\\d+>)",
    "(<@&\\d+>)",
    "(<#\\d+>)",
    "(<\\/[^:<>]+:\\d+>)",
    "(<t:-?\\d+(?::[tTdDfFR])?>)",
    "(\\[[^\\]\\n]+\\]\\(<?https?:\\/\\/[^)\\s>]+>?\\))",
    "(https?:\\/\\/[^\\s<]+[^\\s<.,:;\"')\\]])",
  ].join("|"),
  "g",
);

function relativeTime(seconds) {
  const diff = seconds - Date.now() / 1000;
  const units = [
    ["year", 31536000],
    ["month", 2592000],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
    ["second", 1],
  ];
  const format = new Intl.RelativeTimeFormat(languageTag(), { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(diff) >= size || unit === "second") {
      return format.format(Math.round(diff / size), unit);
    }
  }
  return "";
}

function timestampText(seconds, style) {
  const date = new Date(seconds * 1000);
  // Discord shows a time it can't represent as the text it was sent as.
  if (!Number.isFinite(seconds) || Number.isNaN(date.getTime())) return "Invalid Date";
  const tag = languageTag();
  switch (style) {
    case "R":
      return relativeTime(seconds);
    case "t":
      return date.toLocaleTimeString(tag, { hour: "numeric", minute: "2-digit" });
    case "T":
      return date.toLocaleTimeString(tag);
    case "d":
      return date.toLocaleDateString(tag);
    case "D":
      return date.toLocaleDateString(tag, { dateStyle: "long" });
    case "F":
      return date.toLocaleString(tag, { dateStyle: "full", timeStyle: "short" });
    default:
      return date.toLocaleString(tag, { dateStyle: "long", timeStyle: "short" });
  }
}

function inline(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    out.push(token(match[0]));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function token(t) {
  if (t.startsWith("```")) {
    const body = t.slice(3, -3).replace(/^[a-z]*\n/, "");
    return el("pre", {}, el("code", { text: body }));
  }
  if (t.startsWith("`")) return el("code", { text: t.slice(1, -1) });
  if (t.startsWith("**")) return el("strong", {}, inline(t.slice(2, -2)));
  if (t.startsWith("__")) return el("u", {}, inline(t.slice(2, -2)));
  if (t.startsWith("~~")) return el("s", {}, inline(t.slice(2, -2)));
  if (t.startsWith("||")) {
    const node = el("span", { class: "spoiler" }, inline(t.slice(2, -2)));
    node.addEventListener("click", () => node.classList.add("open"));
    return node;
  }
  if (t.startsWith("*") || t.startsWith("_")) return el("em", {}, inline(t.slice(1, -1)));
  let m;
  if ((m = /^<@!?(\d+)>$/.exec(t))) return el("span", { class: "mention", text: "@" + nameOf(m[1]) });
  if ((m = /^<@&(\d+)>$/.exec(t))) {
    const role = state.world.directory.roles[m[1]];
    return el("span", { class: "mention", text: "@" + (role ? role.name : "deleted-role") });
  }
  if ((m = /^<#(\d+)>$/.exec(t))) {
    const channel = state.world.directory.channels[m[1]];
    return el("span", { class: "mention", text: "#" + (channel ? channel.name : "unknown") });
  }
  if ((m = /^<\/([^:<>]+):\d+>$/.exec(t))) return el("span", { class: "command-mention", text: "/" + m[1] });
  if ((m = /^<t:(-?\d+)(?::([tTdDfFR]))?>$/.exec(t))) {
    return el("time", {
      class: "timestamp",
      dataset: { ts: m[1], style: m[2] || "f" },
      title: new Date(Number(m[1]) * 1000).toLocaleString(languageTag()),
      text: timestampText(Number(m[1]), m[2] || "f"),
    });
  }
  if ((m = /^\[([^\]]+)\]\(<?(https?:\/\/[^)\s>]+)>?\)$/.exec(t))) {
    return el("a", { href: safeUrl(m[2]), target: "_blank", rel: "noopener noreferrer", text: m[1] });
  }
  if (/^https?:\/\//.test(t)) return el("a", { href: safeUrl(t), target: "_blank", rel: "noopener noreferrer", text: t });
  return document.createTextNode(t);
}

function markdown(text) {
  const nodes = [];
  const lines = String(text || "").split("\n");
  let buffer = [];
  const flush = () => {
    if (buffer.length) {
      nodes.push(...inline(buffer.join("\n")));
      buffer = [];
    }
  };
  let inCode = false;
  for (const line of lines) {
    // A code block keeps its lines as they are.
    if ((line.match(/```/g) || []).length % 2 === 1) inCode = !inCode;
    if (inCode || line.includes("```")) {
      buffer.push(line);
      continue;
    }
    let m;
    if ((m = /^-# (.*)$/.exec(line))) {
      flush();
      nodes.push(el("div", { class: "subtext" }, inline(m[1])));
    } else if ((m = /^(#{1,3}) (.*)$/.exec(line))) {
      flush();
      nodes.push(el("h" + (m[1].length + 2), {}, inline(m[2])));
    } else if ((m = /^> ?(.*)$/.exec(line))) {
      flush();
      nodes.push(el("blockquote", {}, inline(m[1])));
    } else {
      buffer.push(line);
    }
  }
  flush();
  return nodes;
}

// -- messages --------------------------------------------------------------------------

function attachmentFor(message, url) {
  if (!url || !String(url).startsWith("attachment://")) return null;
  const name = String(url).slice("attachment://".length);
  return (message.attachments || []).find((a) => a.filename === name) || null;
}

function renderEmbed(message, embed, used) {
  const color = typeof embed.color === "number" ? "#" + embed.color.toString(16).padStart(6, "0") : null;
  const box = el("div", { class: "embed" });
  if (color) box.style.borderLeftColor = color;
  if (embed.author && embed.author.name) box.append(el("div", { class: "embed-author", text: embed.author.name }));
  if (embed.title) {
    const href = safeUrl(embed.url);
    box.append(
      el("div", { class: "embed-title" }, href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }, inline(embed.title)) : inline(embed.title)),
    );
  }
  if (embed.description) box.append(el("div", { class: "embed-description" }, markdown(embed.description)));
  if (embed.fields && embed.fields.length) {
    box.append(
      el(
        "div",
        { class: "embed-fields" },
        embed.fields.map((f) =>
          el(
            "div",
            { class: "embed-field" + (f.inline ? " inline" : "") },
            el("div", { class: "embed-field-name" }, inline(f.name || "")),
            el("div", { class: "embed-field-value" }, markdown(f.value || "")),
          ),
        ),
      ),
    );
  }
  for (const key of ["image", "thumbnail"]) {
    const image = embed[key];
    if (!image || !image.url) continue;
    const attached = attachmentFor(message, image.url);
    if (attached) used.add(attached.id);
    const src = attached ? attached.url : null; // nothing is fetched from outside
    if (src) box.append(el("img", { class: "embed-image", src, alt: attached.filename }));
  }
  const footer = [embed.footer && embed.footer.text, embed.timestamp && new Date(embed.timestamp).toLocaleString(languageTag())].filter(Boolean);
  if (footer.length) box.append(el("div", { class: "embed-footer", text: footer.join(" • ") }));
  return box;
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function renderAttachment(attachment) {
  const url = safeUrl(attachment.url);
  const type = String(attachment.content_type || "");
  if (/^image\/(png|jpeg|gif|webp)$/.test(type) && url) {
    return el("img", { class: "attachment-image", src: url, alt: attachment.filename, dataset: { filename: attachment.filename } });
  }
  return el(
    "div",
    { class: "file", dataset: { filename: attachment.filename } },
    el("div", {}, el("a", { href: url, download: attachment.filename, text: attachment.filename }), el("span", { class: "size", text: formatSize(attachment.size || 0) })),
  );
}

function renderComponents(message) {
  const rows = (message.components || []).filter((c) => c.type === 1);
  if (!rows.length) return null;
  return el(
    "div",
    { class: "components" },
    rows.map((row) =>
      el(
        "div",
        { class: "action-row" },
        (row.components || []).map((c) => renderComponent(message, c)),
      ),
    ),
  );
}

function renderComponent(message, c) {
  if (c.type === 2) {
    const label = [c.emoji && c.emoji.name, c.label].filter(Boolean).join(" ");
    if (c.style === 5) {
      const href = safeUrl(c.url);
      return el(
        "button",
        {
          class: "button style-5",
          type: "button",
          disabled: c.disabled || !href,
          title: href || "",
          onclick: () => href && window.open(href, "_blank", "noopener,noreferrer"),
        },
        label + " ↗",
      );
    }
    return el("button", {
      class: `button style-${c.style || 2}`,
      type: "button",
      disabled: c.disabled,
      dataset: { customId: c.custom_id },
      text: label || "​",
      onclick: (event) => press(message, c, event.currentTarget),
    });
  }
  if (c.type === 3) {
    const select = el(
      "select",
      { class: "select", disabled: c.disabled, dataset: { customId: c.custom_id } },
      el("option", { value: "", text: c.placeholder || "Make a selection" }),
      (c.options || []).map((o) => el("option", { value: o.value, text: o.label, selected: o.default })),
    );
    select.addEventListener("change", () => choose(message, c, [select.value]));
    return select;
  }
  return el("span", { class: "subtext", text: `(a component of type ${c.type})` });
}

function renderMessage(message) {
  const author = message.author || {};
  const isBot = Boolean(author.bot);
  const name = nameOf(author.id);
  const used = new Set();
  const body = el("div", { class: "body" });
  body.append(
    el(
      "div",
      { class: "head" },
      el("span", { class: "author", text: name }),
      isBot ? el("span", { class: "bot-tag", text: "App" }) : null,
      el("time", { class: "time", text: new Date(message.timestamp).toLocaleString(languageTag(), { dateStyle: "short", timeStyle: "short" }) }),
    ),
  );
  if (message.loading) body.append(el("div", { class: "thinking", text: `${name} is thinking` }));
  if (message.content) body.append(el("div", { class: "content" }, markdown(message.content)));
  for (const embed of message.embeds || []) body.append(renderEmbed(message, embed, used));
  for (const attachment of message.attachments || []) {
    if (!used.has(attachment.id)) body.append(renderAttachment(attachment));
  }
  const components = renderComponents(message);
  if (components) body.append(components);
  if (message.ephemeral) {
    body.append(
      el(
        "div",
        { class: "ephemeral-note" },
        "Only you can see this • ",
        el("button", {
          type: "button",
          text: "Dismiss message",
          onclick: () => {
            state.dismissed.add(message.id);
            renderMessages();
          },
        }),
      ),
    );
  }
  const item = el("li", {
    class: "message" + (message.ephemeral ? " ephemeral" : ""),
    dataset: { id: message.id, author: isBot ? "bot" : "member" },
  });
  if (message.used_command) {
    const meta = message.interaction_metadata || {};
    item.append(
      el("div", {}),
      el("div", { class: "used" }, "↱ ", el("b", { text: nameOf(meta.user && meta.user.id) }), " used ", el("span", { class: "command-mention", text: message.used_command })),
    );
  }
  item.append(el("div", { class: "avatar" + (isBot ? "" : " member"), text: name.slice(0, 1).toUpperCase() }), body);
  return item;
}

function safely(message) {
  // One message the page can't draw must not hide the others.
  try {
    return renderMessage(message);
  } catch (error) {
    return el("li", { class: "message", dataset: { id: message.id } }, el("div", {}), el("div", { class: "subtext", text: `(this message could not be shown: ${error.message})` }));
  }
}

function renderMessages() {
  const list = document.getElementById("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const messages = (state.view ? state.view.messages : []).filter((m) => !state.dismissed.has(m.id));
  list.replaceChildren(...messages.map(safely));
  if (!messages.length) {
    const empty = state.channel === personaInfo(state.persona).dm_channel ? "No direct messages from the bot yet." : "No messages here yet.";
    list.append(el("li", { class: "empty", text: empty }));
  }
  if (nearBottom || state.scrollDown) {
    list.scrollTop = list.scrollHeight;
    // An image arriving later (a chart) makes the list taller: stay at the bottom.
    for (const image of list.querySelectorAll("img")) {
      if (!image.complete) image.addEventListener("load", () => (list.scrollTop = list.scrollHeight), { once: true });
    }
  }
  state.scrollDown = false;
}

// -- channels and who you are ----------------------------------------------------------

function renderSidebar() {
  const persona = personaInfo(state.persona);
  const counts = (state.view && state.view.counts) || {};
  const seen = (state.seen[state.persona] ||= {});
  seen[state.channel] = counts[state.channel] || 0;
  const badge = (cid) => {
    const unread = (counts[cid] || 0) - (seen[cid] || 0);
    return unread > 0 ? el("span", { class: "unread", text: String(unread) }) : null;
  };
  const channels = state.world.channels.filter((c) => persona.channels.includes(c.id));
  document.getElementById("channels").replaceChildren(
    ...channels.map((c) =>
      el("li", { class: c.id === state.channel ? "active" : "", dataset: { channel: c.name }, onclick: () => openChannel(c.id) }, c.name, badge(c.id)),
    ),
  );
  document.getElementById("dms").replaceChildren(
    el(
      "li",
      { class: persona.dm_channel === state.channel ? "active" : "", dataset: { channel: "dm" }, onclick: () => openChannel(persona.dm_channel) },
      state.world.bot.name,
      badge(persona.dm_channel),
    ),
  );
}

function renderHeader() {
  const persona = personaInfo(state.persona);
  const channel = state.world.channels.find((c) => c.id === state.channel);
  const title = document.getElementById("channel-title");
  const topic = document.getElementById("channel-topic");
  const notice = document.getElementById("notice-line");
  if (channel) {
    title.textContent = "# " + channel.name;
    topic.textContent = channel.topic || "";
    notice.hidden = true;
  } else {
    title.textContent = "@ " + state.world.bot.name;
    topic.textContent = `Your direct messages with ${state.world.bot.name}`;
    notice.hidden = !persona.dms_closed;
    notice.textContent = persona.dms_closed ? "Your privacy settings don't allow direct messages from server members: the bot can't DM you." : "";
  }
  document.getElementById("persona-note").textContent = persona.note || "";
}

async function openChannel(id) {
  state.channel = id;
  state.scrollDown = true;
  closeSuggestions();
  await refreshView();
}

async function switchPersona(id) {
  state.persona = id;
  const persona = personaInfo(id);
  document.getElementById("language").value = persona.locale;
  if (state.channel !== persona.dm_channel && !persona.channels.includes(state.channel)) {
    state.channel = persona.channels[0];
  }
  resetComposer();
  state.scrollDown = true;
  await refreshView();
}

async function switchLanguage(locale) {
  await api("PUT", `api/personas/${state.persona}`, { locale });
  personaInfo(state.persona).locale = locale;
  resetComposer();
  await refreshView();
}

// -- the command box -------------------------------------------------------------------

function commands() {
  return (state.view && state.view.commands) || [];
}

function matchingCommands(text) {
  const typed = text.replace(/^\//, "").trim().toLowerCase();
  return commands().filter((c) => c.label.toLowerCase().startsWith(typed) || c.label.toLowerCase().includes(" " + typed) || (typed && c.label.toLowerCase().includes(typed)));
}

function closeSuggestions() {
  document.getElementById("suggestions").hidden = true;
}

function showSuggestions() {
  const input = document.getElementById("command-input");
  const list = document.getElementById("suggestions");
  if (state.command || !input.value.startsWith("/")) {
    list.hidden = true;
    return;
  }
  const found = matchingCommands(input.value);
  state.suggestion = Math.min(state.suggestion, Math.max(0, found.length - 1));
  if (!found.length) {
    list.replaceChildren(el("li", { class: "empty", text: `No command matches ${input.value} here.` }));
    list.hidden = false;
    return;
  }
  list.replaceChildren(
    ...found.map((c, index) =>
      el(
        "li",
        {
          class: index === state.suggestion ? "selected" : "",
          dataset: { command: [c.name, ...c.path].join(" "), label: c.label },
          onmousedown: (event) => {
            event.preventDefault();
            chooseCommand(c);
          },
        },
        el("b", { text: "/" + c.label }),
        el("small", { text: c.description }),
      ),
    ),
  );
  list.hidden = false;
}

function resetComposer() {
  state.command = null;
  document.getElementById("command-input").value = "";
  document.getElementById("command-input").placeholder = "Type / to use a command";
  document.getElementById("command-chip").hidden = true;
  document.getElementById("option-fields").replaceChildren();
  setError("");
  closeSuggestions();
}

function setError(text) {
  const line = document.getElementById("composer-error");
  line.textContent = text;
  line.hidden = !text;
}

function optionInput(command, option) {
  const id = `option-${option.name}`;
  const attrs = { id, name: option.name, dataset: { option: option.name }, required: option.required };
  let input;
  const members = () =>
    Object.entries(state.world.directory.users)
      .filter(([, u]) => !u.bot)
      .map(([uid, u]) => el("option", { value: uid, text: u.name }));
  if (option.choices) {
    input = el("select", attrs, el("option", { value: "", text: option.required ? "Choose…" : "(none)" }), option.choices.map((c) => el("option", { value: String(c.value), text: c.name })));
  } else if (option.type === 5) {
    input = el("select", attrs, el("option", { value: "", text: "(none)" }), el("option", { value: "true", text: "True" }), el("option", { value: "false", text: "False" }));
  } else if (option.type === 6 || option.type === 9) {
    input = el("select", attrs, el("option", { value: "", text: "Choose a member…" }), members());
  } else if (option.type === 7) {
    input = el("select", attrs, el("option", { value: "", text: "Choose a channel…" }), state.world.channels.map((c) => el("option", { value: c.id, text: "#" + c.name })));
  } else if (option.type === 8) {
    input = el(
      "select",
      attrs,
      el("option", { value: "", text: "Choose a role…" }),
      Object.entries(state.world.directory.roles).map(([rid, r]) => el("option", { value: rid, text: "@" + r.name })),
    );
  } else if (option.type === 4 || option.type === 10) {
    input = el("input", { ...attrs, type: "number", step: option.type === 4 ? "1" : "any", min: option.min_value, max: option.max_value });
  } else {
    input = el("input", { ...attrs, type: "text", minlength: option.min_length, maxlength: option.max_length });
  }
  const wrapper = el(
    "div",
    { class: "option", title: option.description },
    el("label", { for: id }, option.label, option.required ? el("span", { class: "required", text: " *" }) : null),
    input,
  );
  if (option.autocomplete) {
    const list = el("ul", { class: "choices", hidden: true });
    wrapper.append(list);
    let timer = null;
    let asked = 0;
    const ask = async () => {
      const mine = ++asked;
      try {
        const answer = await api("POST", "api/autocomplete", {
          as: state.persona,
          channel: state.channel,
          name: command.name,
          path: command.path,
          focused: option.name,
          options: optionValues(),
        });
        if (mine !== asked) return;
        list.replaceChildren(
          ...answer.choices.map((c) =>
            el("li", {
              text: c.name,
              dataset: { value: String(c.value) },
              onmousedown: (event) => {
                event.preventDefault();
                input.value = String(c.value);
                input.dataset.shown = c.name;
                list.hidden = true;
              },
            }),
          ),
        );
        if (!answer.choices.length) list.replaceChildren(el("li", { class: "empty", text: "No matches" }));
        list.hidden = false;
        setError("");
      } catch (error) {
        setError(error.message);
      }
    };
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(ask, 200);
    });
    input.addEventListener("focus", ask);
    input.addEventListener("blur", () =>
      setTimeout(() => {
        if (document.activeElement !== input) list.hidden = true;
      }, 150),
    );
  }
  return wrapper;
}

function chooseCommand(command) {
  state.command = command;
  closeSuggestions();
  const input = document.getElementById("command-input");
  input.value = "";
  input.placeholder = `Press Enter or Send to run /${command.label}`;
  const chip = document.getElementById("command-chip");
  chip.replaceChildren("/" + command.label, el("small", { text: command.description }), " ", el("button", { type: "button", class: "small-button", text: "✕", title: "Choose another command", onclick: resetComposer }));
  chip.hidden = false;
  document.getElementById("option-fields").replaceChildren(...command.options.map((o) => optionInput(command, o)));
  const first = document.querySelector("#option-fields input, #option-fields select");
  (first || input).focus();
}

function optionValues() {
  const values = {};
  for (const field of document.querySelectorAll("#option-fields [data-option]")) {
    if (field.value !== "") values[field.dataset.option] = field.value;
  }
  return values;
}

async function send(event) {
  event.preventDefault();
  for (const list of document.querySelectorAll(".choices")) list.hidden = true;
  if (!state.command) {
    const input = document.getElementById("command-input");
    const found = input.value.startsWith("/") ? matchingCommands(input.value) : [];
    if (found.length) return chooseCommand(found[state.suggestion] || found[0]);
    setError(input.value.startsWith("/") ? `No command ${input.value.split(" ")[0]} is available to you here.` : "The bot reads slash commands only: type / to pick one.");
    return;
  }
  const missing = state.command.options.filter((o) => o.required && optionValues()[o.name] === undefined);
  if (missing.length) {
    setError(`Fill in ${missing.map((o) => o.label).join(", ")} first.`);
    return;
  }
  const command = state.command;
  const values = optionValues();
  // Sent: the box is cleared at once, as Discord's is, so what is typed next is never
  // wiped by this command's answer arriving later.
  resetComposer();
  try {
    const answer = await api("POST", "api/slash", {
      as: state.persona,
      channel: state.channel,
      name: command.name,
      path: command.path,
      options: values,
    });
    state.scrollDown = true;
    handleAnswer(answer, setError);
  } catch (error) {
    // Not sent: the command comes back as it was typed, with what was wrong.
    if (!state.command && !document.getElementById("command-input").value) {
      chooseCommand(command);
      for (const [name, value] of Object.entries(values)) {
        const field = document.querySelector(`#option-fields [data-option="${CSS.escape(name)}"]`);
        if (field) field.value = value;
      }
    }
    setError(error.message);
  }
}

function handleAnswer(answer, showError) {
  if (answer.error) showError(answer.error);
  if (answer.modal) openModal(answer.interaction, answer.modal);
  refreshSoon();
}

async function press(message, component, button) {
  button.disabled = true;
  try {
    handleAnswer(await api("POST", "api/button", { as: state.persona, message: message.id, custom_id: component.custom_id }), setError);
  } catch (error) {
    setError(error.message);
    button.disabled = false;
  }
}

async function choose(message, component, values) {
  try {
    handleAnswer(await api("POST", "api/select", { as: state.persona, message: message.id, custom_id: component.custom_id, values }), setError);
  } catch (error) {
    setError(error.message);
  }
}

// -- modals ----------------------------------------------------------------------------

function textInputs(components) {
  const found = [];
  for (const c of components || []) {
    if (c.type === 1) {
      for (const inner of c.components || []) if (inner.type === 4) found.push({ label: inner.label, description: null, input: inner });
    } else if (c.type === 18 && c.component && c.component.type === 4) {
      found.push({ label: c.label, description: c.description, input: c.component });
    }
  }
  return found;
}

function openModal(interaction, modal) {
  state.modal = { interaction, custom_id: modal.custom_id };
  const form = document.getElementById("modal");
  form.dataset.customId = modal.custom_id;
  document.getElementById("modal-title").textContent = modal.title || "";
  const fields = textInputs(modal.components).map(({ label, description, input }) => {
    const id = "modal-" + input.custom_id;
    const attrs = {
      id,
      name: input.custom_id,
      dataset: { input: input.custom_id },
      required: input.required !== false,
      minlength: input.min_length,
      maxlength: input.max_length,
      placeholder: input.placeholder,
    };
    const field = input.style === 2 ? el("textarea", attrs) : el("input", { ...attrs, type: "text" });
    field.value = input.value || "";
    return el(
      "div",
      { class: "modal-field" },
      el("label", { for: id }, label || "", input.required !== false ? el("span", { class: "required", text: " *" }) : null),
      description ? el("div", { class: "description", text: description }) : null,
      field,
    );
  });
  document.getElementById("modal-fields").replaceChildren(...fields);
  setModalError("");
  document.getElementById("modal-backdrop").hidden = false;
  const first = form.querySelector("input, textarea");
  if (first) first.focus();
}

function setModalError(text) {
  const line = document.getElementById("modal-error");
  line.textContent = text;
  line.hidden = !text;
}

function closeModal() {
  state.modal = null;
  document.getElementById("modal-backdrop").hidden = true;
}

async function submitModal(event) {
  event.preventDefault();
  if (!state.modal) return;
  const values = {};
  for (const field of document.querySelectorAll("#modal-fields [data-input]")) values[field.dataset.input] = field.value;
  const submit = document.getElementById("modal-submit");
  submit.disabled = true;
  try {
    const answer = await api("POST", "api/modal", { as: state.persona, interaction: state.modal.interaction, custom_id: state.modal.custom_id, values });
    if (answer.closed) closeModal();
    if (answer.error) setModalError(`Something went wrong: ${answer.error}. Try again.`);
    if (answer.modal) openModal(answer.interaction, answer.modal);
    state.scrollDown = true;
    refreshSoon();
  } catch (error) {
    setModalError(error.message);
  } finally {
    submit.disabled = false;
  }
}

// -- provider panels -------------------------------------------------------------------

function renderProviders() {
  const tabs = document.getElementById("provider-tabs");
  if (!state.panel && state.providers.length) state.panel = state.providers[0].name;
  tabs.replaceChildren(
    ...state.providers.map((p) => {
      const open = p.orders.filter((o) => o.actions.length).length;
      return el("button", { type: "button", class: p.name === state.panel ? "active" : "", dataset: { provider: p.name }, onclick: () => { state.panel = p.name; renderProviders(); } }, p.title + (open ? ` (${open})` : ""));
    }),
  );
  const panel = state.providers.find((p) => p.name === state.panel);
  const body = document.getElementById("provider-body");
  if (!panel) {
    body.replaceChildren();
    return;
  }
  // What was typed, and which requests are open, survive the redraws the bot's polls bring.
  const retry = el("input", {
    type: "number",
    min: "0",
    max: "3600",
    step: "1",
    value: state.retryAfter,
    title: "Retry-After, in seconds",
    "aria-label": "Retry-After seconds",
    oninput: (event) => (state.retryAfter = event.currentTarget.value),
  });
  const faultButton = (kind, label, extra) =>
    el("button", { type: "button", class: "small-button", dataset: { fault: kind }, text: label, onclick: () => providerCall("POST", `api/providers/${panel.name}/faults`, { kind, ...extra() }) });
  const orders = panel.orders.slice().reverse();
  body.replaceChildren(
    el("div", { class: "panel", dataset: { provider: panel.name } },
      el("h3", { text: "Next request fails" }),
      el(
        "div",
        { class: "faults" },
        faultButton("rate_limit", "429", () => ({ retry_after: retry.value })),
        el("label", {}, "Retry-After ", retry),
        faultButton("server_error", "500", () => ({})),
        faultButton("hang", "Hang", () => ({})),
        panel.faults.length ? el("button", { type: "button", class: "small-button", text: `Clear ${panel.faults.length} queued`, onclick: () => providerCall("DELETE", `api/providers/${panel.name}/faults`) }) : null,
      ),
      panel.faults.length ? el("div", { class: "subtext", text: "Queued: " + panel.faults.join(", ") }) : null,
      el("h3", { text: panel.name === "razorpay" ? "Payment links" : "Orders" }),
      orders.length
        ? orders.map((o) =>
            el(
              "div",
              { class: "order", dataset: { order: o.id } },
              el("span", { class: "order-id", text: o.id }),
              el("span", { class: "status " + o.status, text: o.status }),
              o.summary ? el("span", { text: o.summary }) : null,
              el(
                "div",
                { class: "order-actions" },
                o.actions.map((a, index) =>
                  el("button", {
                    type: "button",
                    class: "small-button" + (index === 0 ? " next" : ""),
                    dataset: { action: a.id },
                    text: a.label,
                    onclick: () => providerCall("POST", `api/providers/${panel.name}/orders/${encodeURIComponent(o.id)}/${encodeURIComponent(a.id)}`),
                  }),
                ),
              ),
            ),
          )
        : el("p", { class: "empty", text: "Nothing yet: orders appear here when the bot places them." }),
      el("h3", { text: "Requests the bot made" }),
      panel.requests.length
        ? el(
            "ul",
            { class: "requests" },
            panel.requests
              .slice()
              .reverse()
              .map((r) =>
                el(
                  "li",
                  {},
                  el(
                    "details",
                    {
                      open: state.openRequests.has(`${panel.name}:${r.at}`),
                      ontoggle: (event) => {
                        const key = `${panel.name}:${r.at}`;
                        if (event.currentTarget.open) state.openRequests.add(key);
                        else state.openRequests.delete(key);
                      },
                    },
                    el("summary", {}, `${new Date(r.at * 1000).toLocaleTimeString()} ${r.method} ${r.path}`),
                    el("pre", { text: r.body || "(no body)" }),
                  ),
                ),
              ),
          )
        : el("p", { class: "empty", text: "No requests yet." }),
    ),
  );
}

async function providerCall(method, path, body) {
  const said = document.getElementById("provider-said");
  try {
    const answer = await api(method, path, body);
    said.textContent = answer.said || (answer.cleared !== undefined ? `Cleared ${answer.cleared} fault(s).` : "Done.");
  } catch (error) {
    said.textContent = error.message;
  }
  refreshSoon();
}

// -- live updates ----------------------------------------------------------------------

async function refreshView() {
  const asked = `${state.persona}/${state.channel}`;
  const view = await api("GET", `api/view?as=${state.persona}&channel=${state.channel}`);
  if (`${state.persona}/${state.channel}` !== asked) return;
  // Unchanged: nothing is redrawn, so a selection (a key being copied) stays.
  const text = JSON.stringify(view);
  if (text === state.viewText && !state.scrollDown) return;
  state.viewText = text;
  state.view = view;
  renderHeader();
  renderSidebar();
  renderMessages();
  showSuggestions();
}

async function refresh() {
  if (state.refreshing) {
    state.again = true;
    return;
  }
  state.refreshing = true;
  try {
    do {
      state.again = false;
      await refreshView();
      const providers = await api("GET", "api/providers");
      const text = JSON.stringify(providers);
      if (text !== state.providersText) {
        state.providersText = text;
        state.providers = providers;
        renderProviders();
      }
    } while (state.again);
  } catch (error) {
    setError(error.message);
  } finally {
    state.refreshing = false;
  }
}

function refreshSoon() {
  setTimeout(refresh, 0);
}

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource(BASE + "api/events");
  events.onopen = () => live.classList.add("on");
  events.onerror = () => live.classList.remove("on");
  events.onmessage = () => refresh();
}

async function start() {
  state.world = await api("GET", "api/world");
  document.getElementById("guild-name").textContent = state.world.guild;
  document.title = `${state.world.guild} · OrderBot playground`;
  const personas = document.getElementById("persona");
  personas.replaceChildren(...state.world.personas.map((p) => el("option", { value: p.id, text: `${p.name} (${p.label})` })));
  const languages = document.getElementById("language");
  languages.replaceChildren(...state.world.languages.map((l) => el("option", { value: l.locale, text: l.label })));
  personas.addEventListener("change", () => switchPersona(personas.value));
  languages.addEventListener("change", () => switchLanguage(languages.value));
  const input = document.getElementById("command-input");
  input.addEventListener("input", () => {
    state.suggestion = 0;
    setError("");
    showSuggestions();
  });
  input.addEventListener("keydown", (event) => {
    const found = state.command ? [] : matchingCommands(input.value);
    if (event.key === "ArrowDown" && found.length) {
      state.suggestion = (state.suggestion + 1) % found.length;
      showSuggestions();
      event.preventDefault();
    } else if (event.key === "ArrowUp" && found.length) {
      state.suggestion = (state.suggestion - 1 + found.length) % found.length;
      showSuggestions();
      event.preventDefault();
    } else if (event.key === "Escape") {
      resetComposer();
    }
  });
  // Closed a moment after focus leaves (a click on a suggestion lands first), unless
  // focus came back in the meantime.
  input.addEventListener("blur", () =>
    setTimeout(() => {
      if (document.activeElement !== input) closeSuggestions();
    }, 150),
  );
  input.addEventListener("focus", showSuggestions);
  document.getElementById("composer").addEventListener("submit", send);
  document.getElementById("modal").addEventListener("submit", submitModal);
  document.getElementById("modal-cancel").addEventListener("click", closeModal);
  state.persona = state.world.personas[0].id;
  state.channel = state.world.personas[0].channels[0];
  languages.value = state.world.personas[0].locale;
  await refresh();
  listen();
  // Relative times ("2 minutes ago") move on.
  setInterval(() => {
    for (const node of document.querySelectorAll("time.timestamp")) {
      node.textContent = timestampText(Number(node.dataset.ts), node.dataset.style);
    }
  }, 30000);
}

start().catch((error) => {
  document.body.prepend(el("p", { id: "fatal", text: `The playground could not start: ${error.message}` }));
});
