// Messages as Discord draws them: author, embeds, attachments, components, the
// ephemeral note, "thinking", and "X used /command" above a reply.
import { press, choose } from "./actions.js";
import { el, languageTag, nameOf, personaInfo, safeUrl, state } from "./core.js";
import { inline, markdown } from "./markdown.js";

function attachmentFor(message, url) {
  if (!url || !String(url).startsWith("attachment://")) return null;
  const name = String(url).slice("attachment://".length);
  return (message.attachments || []).find((a) => a.filename === name) || null;
}

function renderEmbed(message, embed, used) {
  // Colour 0 is "no colour" to Discord, not black.
  const color = typeof embed.color === "number" && embed.color > 0 ? "#" + embed.color.toString(16).padStart(6, "0") : null;
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
        embed.fields.map((f, index) =>
          el(
            "div",
            { class: `embed-field ${fieldSpan(embed.fields, index)}` },
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

// Inline fields share a row as Discord lays them out: up to three, two take half each.
function fieldSpan(fields, index) {
  if (!fields[index].inline) return "span-6";
  let start = index;
  while (start > 0 && fields[start - 1].inline) start--;
  let end = index;
  while (end + 1 < fields.length && fields[end + 1].inline) end++;
  const position = index - start;
  const rowStart = position - (position % 3);
  const inRow = Math.min(3, end - start + 1 - rowStart);
  return `span-${6 / inRow}`;
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

export function renderMessages() {
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
