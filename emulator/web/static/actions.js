// What a person does to the bot's messages: press a button, pick in a select. The bot's
// first answer may be a form to open.
import { api, refreshSoon, setError, state } from "./core.js";
import { openModal } from "./modal.js";

export function handleAnswer(answer, showError) {
  if (answer.error) showError(answer.error);
  if (answer.modal) openModal(answer.interaction, answer.modal);
  refreshSoon();
}

export async function press(message, component, button) {
  // Not pressed twice while the bot answers; pressable again once it has (a form the
  // person cancels, or an answer that changes nothing, leaves the message as it was).
  button.disabled = true;
  try {
    handleAnswer(await api("POST", "api/button", { as: state.persona, message: message.id, custom_id: component.custom_id }), setError);
  } catch (error) {
    setError(error.message);
  } finally {
    button.disabled = false;
  }
}

export async function choose(message, component, values) {
  try {
    handleAnswer(await api("POST", "api/select", { as: state.persona, message: message.id, custom_id: component.custom_id, values }), setError);
  } catch (error) {
    setError(error.message);
  }
}
