// The command box: the commands the bot synced, as this member's client offers them, with
// typed options, live autocomplete, and sending.
import { handleAnswer } from "./actions.js";
import { api, el, setError, state } from "./core.js";

function commands() {
  return (state.view && state.view.commands) || [];
}

export function matchingCommands(text) {
  const typed = text.replace(/^\//, "").trim().toLowerCase();
  return commands().filter((c) => c.label.toLowerCase().startsWith(typed) || c.label.toLowerCase().includes(" " + typed) || (typed && c.label.toLowerCase().includes(typed)));
}

export function closeSuggestions() {
  document.getElementById("suggestions").hidden = true;
}

export function showSuggestions() {
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

export function resetComposer() {
  state.command = null;
  document.getElementById("command-input").value = "";
  document.getElementById("command-input").placeholder = "Type / to use a command";
  document.getElementById("command-chip").hidden = true;
  document.getElementById("option-fields").replaceChildren();
  setError("");
  closeSuggestions();
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
    // Discord shows a choice's name in the box and sends its value.
    const list = el("ul", { class: "choices", hidden: true });
    wrapper.append(list);
    let timer = null;
    let asked = 0;
    const pick = (choice) => {
      clearTimeout(timer);
      asked++; // an answer still on its way is for what was typed before
      input.value = choice.name;
      input.dataset.shown = choice.name;
      input.dataset.value = String(choice.value);
      list.hidden = true;
    };
    const ask = async () => {
      const mine = ++asked;
      try {
        const answer = await api("POST", "api/autocomplete", { ...commandRequest(command, optionValues()), focused: option.name });
        if (mine !== asked || !input.isConnected || document.activeElement !== input) return;
        list.replaceChildren(
          ...answer.choices.map((c, index) =>
            el("li", {
              text: c.name,
              class: index === 0 ? "selected" : "",
              dataset: { value: String(c.value) },
              onmousedown: (event) => {
                event.preventDefault();
                pick(c);
              },
            }),
          ),
        );
        list.choices = answer.choices;
        if (!answer.choices.length) list.replaceChildren(el("li", { class: "empty", text: "No matches" }));
        list.hidden = false;
      } catch (error) {
        if (mine === asked) setError(error.message);
      }
    };
    input.addEventListener("input", () => {
      delete input.dataset.shown;
      delete input.dataset.value;
      clearTimeout(timer);
      timer = setTimeout(ask, 200);
    });
    input.addEventListener("focus", ask);
    input.addEventListener("keydown", (event) => {
      const items = [...list.querySelectorAll("li[data-value]")];
      if (list.hidden || !items.length) return;
      const at = items.findIndex((item) => item.classList.contains("selected"));
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        const next = (at + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
        items.forEach((item, index) => item.classList.toggle("selected", index === next));
        items[next].scrollIntoView({ block: "nearest" });
        event.preventDefault();
      } else if ((event.key === "Enter" || event.key === "Tab") && at >= 0) {
        pick(list.choices[at]);
        event.preventDefault();
      } else if (event.key === "Escape") {
        list.hidden = true;
        event.preventDefault();
      }
    });
    input.addEventListener("blur", () => {
      clearTimeout(timer);
      setTimeout(() => {
        if (document.activeElement !== input) list.hidden = true;
      }, 150);
    });
  }
  return wrapper;
}

export function chooseCommand(command) {
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

// Who runs which command, where, with what: what api/slash and api/autocomplete read.
function commandRequest(command, options) {
  return { as: state.persona, channel: state.channel, name: command.name, path: command.path, options };
}

function optionValues() {
  const values = {};
  for (const field of document.querySelectorAll("#option-fields [data-option]")) {
    // A picked autocomplete choice: its value, as long as its name is still what shows.
    const picked = field.dataset.shown !== undefined && field.value === field.dataset.shown;
    const value = picked ? field.dataset.value : field.value;
    if (value !== "") values[field.dataset.option] = value;
  }
  return values;
}

export async function send(event) {
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
    const answer = await api("POST", "api/slash", commandRequest(command, values));
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
