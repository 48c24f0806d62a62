// The provider panels: orders and their next statuses, payment links, faults for the
// next request, and the requests the bot made.
import { api, el, refreshSoon, state } from "./core.js";

export function renderProviders() {
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
