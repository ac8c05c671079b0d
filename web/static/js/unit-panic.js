// The unit page's panic button. Held for two seconds (a ring fills meanwhile; a pocket does not hold a
// button down that long), it sends `panic` on /ws/unit with the latest fix. While the panic is open and
// no dispatcher has acknowledged it the page sends positions fast (fast() says so); the cancel asks for
// a confirmation first, and the center records it as an event.

import { PANIC, beep, bi, el } from "./labels.js";

const HOLD_MS = 2000;
export const FAST_SEND_MS = 2000;

export class PanicButton {
  // box: the section it draws in; request(message): the socket's ack or error; here(): {lat, lon} or
  // null; onChange(): the page renders again (the send rate may have changed)
  constructor(box, { request, here, onChange = () => {} }) {
    this.box = box;
    this.request = request;
    this.here = here;
    this.onChange = onChange;
    this.panic = null; // the open panic, as the center sent it
    this.state = "idle"; // idle, holding, sending, raised, acknowledged, failed
    this.hold = null;
    this.render();
  }

  // sending positions fast: a panic the center has not acknowledged yet
  fast() {
    return this.state === "raised" || this.state === "sending";
  }

  set(panic) {
    this.panic = panic || null;
    this.state = !panic ? "idle" : panic.acknowledged_at ? "acknowledged" : "raised";
    this.render();
    this.onChange();
  }

  // the hello's open panic (a reloaded phone keeps going), and this unit's panic events
  fromHello(panic) {
    this.set(panic);
  }

  onEvent(ev) {
    if (ev.kind === "unit.panic" || ev.kind === "unit.panic_acknowledged") {
      this.set(ev.data);
      if (ev.kind === "unit.panic_acknowledged") beep([[660, 150], [0, 60], [880, 250]]);
    } else if (ev.kind === "unit.panic_cancelled") {
      this.set(null);
    }
  }

  start(event) {
    if (this.hold || this.panic || this.state === "sending") return;
    event.preventDefault();
    const began = performance.now();
    this.state = "holding";
    this.render();
    const ring = this.box.querySelector(".panic-ring");
    const step = () => {
      const done = Math.min(1, (performance.now() - began) / HOLD_MS);
      if (ring) ring.style.setProperty("--p", `${Math.round(done * 360)}deg`);
      if (done >= 1) {
        this.hold = null;
        this.send();
      } else {
        this.hold = requestAnimationFrame(step);
      }
    };
    this.hold = requestAnimationFrame(step);
  }

  stop() {
    if (!this.hold) return;
    cancelAnimationFrame(this.hold);
    this.hold = null;
    this.state = "idle";
    this.render();
  }

  async send() {
    this.state = "sending";
    this.render();
    this.onChange();
    if (navigator.vibrate) navigator.vibrate([300, 100, 300]);
    const reply = await this.request({ type: "panic", ...(this.here() || {}) });
    if (reply.type === "ack" && reply.panic) {
      this.set(reply.panic);
    } else {
      this.state = "failed";
      this.render();
      this.onChange();
    }
  }

  async cancel() {
    if (!window.confirm(`${PANIC.confirm[0]} ${PANIC.confirm[1]}`)) return;
    const reply = await this.request({ type: "panic_cancel", confirm: true });
    if (reply.type === "ack") this.set(null);
  }

  render() {
    const open = Boolean(this.panic);
    this.box.dataset.state = this.state;
    if (!open) {
      const words = { holding: PANIC.holding, sending: PANIC.sending, failed: PANIC.failed }[this.state] || PANIC.hold;
      const held = this.box.querySelector("#panic-button");
      if (held) { // the same button while it is held: replacing it would lose the press
        held.querySelector(".bi").replaceWith(bi(words));
        if (this.state !== "holding") held.querySelector(".panic-ring").style.removeProperty("--p");
        return;
      }
      const button = el("button", {
        id: "panic-button", class: "panic-button", type: "button",
        onpointerdown: (e) => this.start(e), onpointerup: () => this.stop(), onpointerleave: () => this.stop(),
        onpointercancel: () => this.stop(), oncontextmenu: (e) => e.preventDefault(),
      }, el("span", { class: "panic-ring" }), el("span", { class: "panic-sos" }, "SOS"), bi(words));
      this.box.replaceChildren(button);
      return;
    }
    const seen = this.state === "acknowledged";
    this.box.replaceChildren(
      el("p", { class: `panic-status${seen ? " seen" : ""}`, role: "alert" }, "🚨 ", bi(seen ? PANIC.acknowledged : PANIC.raised),
        el("span", { class: "ref" }, ` #${this.panic.incident_id}`)),
      el("button", { id: "panic-cancel", class: "panic-cancel", type: "button", onclick: () => this.cancel() }, bi(PANIC.cancel)),
    );
  }
}
