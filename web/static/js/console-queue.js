// The console's queue: open incidents, those nobody serves yet first, with their age.

import { UNSERVED } from "./statuses.js";
import { INCIDENT_STATUS, PRIORITY_COLOUR, categoryLabel, el } from "./labels.js";
import { $, hooks, state, statusChip, tickAges } from "./console-common.js";

export function renderQueue() {
  const items = state.picture.queue();
  $("#queue-count").textContent = `${items.filter((i) => UNSERVED.has(i.status)).length} / ${items.length}`;
  $("#queue").replaceChildren(
    ...items.map((i) =>
      el("li", {
        class: `q${UNSERVED.has(i.status) ? " unserved" : ""}${i.id === state.selected ? " selected" : ""} s-${i.status}`,
        dataset: { incident: i.id, status: i.status },
        onclick: () => hooks.select(i.id),
      },
      el("span", { class: "prio", style: `--c:${PRIORITY_COLOUR[i.priority]}` }, `P${i.priority}`),
      el("span", { class: "what" },
        el("b", {}, `#${i.id} `, categoryLabel(i.category)[0]),
        el("small", {}, categoryLabel(i.category)[1]),
        el("span", { class: "addr" }, i.address || "")),
      el("span", { class: "side" },
        statusChip(INCIDENT_STATUS[i.status] || [i.status, ""], `s-${i.status}`),
        el("time", { dataset: { since: (i.times && i.times.received_at) || "" } }, ""))),
    ),
  );
  tickAges();
}

