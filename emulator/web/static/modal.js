// Forms (modals) the bot opens, with Discord's own limits on each field.
import { api, el, refreshSoon, state } from "./core.js";

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

export function openModal(interaction, modal) {
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

export function closeModal() {
  state.modal = null;
  document.getElementById("modal-backdrop").hidden = true;
}

export async function submitModal(event) {
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
