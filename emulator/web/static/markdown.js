// Discord's markdown, mentions and timestamps, as text nodes.
import { el, languageTag, nameOf, safeUrl, state } from "./core.js";

// A URL's body may hold balanced parentheses (Wikipedia's Foo_(bar)).
const URL_BODY = "(?:[^\\s()<>]|\\([^\\s()<>]*\\))+";

const INLINE = new RegExp(
  [
    "(\\\\[^\\w\\s])", // a backslash escape: the character as it is
    "(```[\\s\\S]*?```)",
    "(`[^`\\n]+`)",
    "(\\*\\*\\*[\\s\\S]+?\\*\\*\\*)",
    "(\\*\\*[\\s\\S]+?\\*\\*)",
    "(__[\\s\\S]+?__)",
    // Italic as Discord reads it: no space just inside the stars, bold allowed within.
    "(\\*(?![\\s*])(?:[^*\\n]|\\*\\*[^*\\n]+\\*\\*)+?(?<!\\s)\\*)",
    "(\\b_[^_\\n]+_\\b)",
    "(~~[\\s\\S]+?~~)",
    "(\\|\\|[\\s\\S]+?\\|\\|)",
    "(<@!?\\d+>)",
    "(<@&\\d+>)",
    "(<#\\d+>)",
    "(<\\/[^:<>]+:\\d+>)",
    "(<t:-?\\d+(?::[tTdDfFR])?>)",
    `(\\[[^\\]\\n]+\\]\\(<?https?:\\/\\/${URL_BODY}>?\\))`,
    `(https?:\\/\\/${URL_BODY})`,
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

export function timestampText(seconds, style) {
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

export function inline(text) {
  const out = [];
  let last = 0;
  // A code block is a block: the line break right after its fence is not drawn again.
  const after = (end, match) => (match && match.startsWith("```") && text[end] === "\n" ? end + 1 : end);
  let previous = null;
  for (const match of text.matchAll(INLINE)) {
    last = after(last, previous);
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    out.push(token(match[0]));
    last = match.index + match[0].length;
    previous = match[0];
  }
  last = after(last, previous);
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function token(t) {
  if (t.length === 2 && t.startsWith("\\")) return document.createTextNode(t[1]);
  if (t.startsWith("```")) {
    const body = t.slice(3, -3).replace(/^[a-z]*\n/, "").replace(/\n$/, "");
    return el("pre", {}, el("code", { text: body }));
  }
  if (t.startsWith("***")) return el("strong", {}, el("em", {}, inline(t.slice(3, -3))));
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
    const role = (state.view?.directory || state.world.directory).roles[m[1]];
    return el("span", { class: "mention", text: "@" + (role ? role.name : "deleted-role") });
  }
  if ((m = /^<#(\d+)>$/.exec(t))) {
    const channel = (state.view?.directory || state.world.directory).channels[m[1]];
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
  if ((m = /^\[([^\]]+)\]\(<?(https?:\/\/[^\s<>]+?)>?\)$/.exec(t))) {
    return el("a", { href: safeUrl(m[2]), target: "_blank", rel: "noopener noreferrer", text: m[1] });
  }
  if (/^https?:\/\//.test(t)) {
    // Punctuation ending a sentence is not part of the address.
    const url = t.replace(/[.,:;!?"']+$/, "");
    const link = el("a", { href: safeUrl(url), target: "_blank", rel: "noopener noreferrer", text: url });
    const fragment = document.createDocumentFragment();
    fragment.append(link, t.slice(url.length));
    return fragment;
  }
  return document.createTextNode(t);
}

export function markdown(text) {
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
  for (const [index, line] of lines.entries()) {
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
    } else if ((m = /^>>> (.*)$/.exec(line))) {
      // Everything from here on is quoted.
      flush();
      const rest = [m[1], ...lines.slice(index + 1)].join("\n");
      nodes.push(el("blockquote", {}, inline(rest)));
      break;
    } else if ((m = /^> (.*)$/.exec(line))) {
      flush();
      nodes.push(el("blockquote", {}, inline(m[1])));
    } else {
      buffer.push(line);
    }
  }
  flush();
  return nodes;
}
