// The playground page: one member at a time in the emulated guild, as Discord shows it.
// Channels, who you are, and live updates; the parts are in the modules imported here.
import { closeSuggestions, matchingCommands, resetComposer, send, showSuggestions } from "./composer.js";
import { BASE, api, el, personaInfo, setError, state } from "./core.js";
import { timestampText } from "./markdown.js";
import { renderMessages } from "./messages.js";
import { closeModal, submitModal } from "./modal.js";
import { renderProviders } from "./panels.js";

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
      el("li", { class: c.id === state.channel ? "active" : "", dataset: { channel: c.name }, onclick: () => openChannel(c.id).catch(failed) }, c.name, badge(c.id)),
    ),
  );
  document.getElementById("dms").replaceChildren(
    el(
      "li",
      { class: persona.dm_channel === state.channel ? "active" : "", dataset: { channel: "dm" }, onclick: () => openChannel(persona.dm_channel).catch(failed) },
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

// What went wrong, on the line under the command box.
function failed(error) {
  setError(error.message);
}

async function openChannel(id) {
  // A command chosen here may not exist there.
  resetComposer();
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
  if (document.activeElement === document.getElementById("command-input")) showSuggestions();
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
  personas.addEventListener("change", () => switchPersona(personas.value).catch(failed));
  languages.addEventListener("change", () =>
    switchLanguage(languages.value).catch((error) => {
      languages.value = personaInfo(state.persona).locale; // not changed after all
      failed(error);
    }),
  );
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

state.refresher = refresh;
start().catch((error) => {
  document.body.prepend(el("p", { id: "fatal", text: `The playground could not start: ${error.message}` }));
});
