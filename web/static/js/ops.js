// The /ws/ops client: the token in the first message, a snapshot, then ordered deltas by sequence number.
// After a drop it reconnects and resumes with {epoch, seq}: the center sends what was missed, or a fresh
// snapshot. A gap in the numbers starts over; the connection itself (auth, backoff, the silence watchdog,
// close codes) is the shared socket base in socket.js.

import { Socket } from "./socket.js";

export class OpsFeed extends Socket {
  constructor({ token, onSnapshot, onEvent, onStatus = () => {}, onAuthFailed = () => {} }) {
    super({ path: "/ws/ops", token, onStatus, onRefused: onAuthFailed });
    this.onSnapshot = onSnapshot;
    this.onEvent = onEvent;
    this.epoch = null;
    this.seq = null;
  }

  auth() {
    const auth = super.auth();
    if (this.epoch !== null && this.seq !== null) auth.resume = { epoch: this.epoch, seq: this.seq };
    return auth;
  }

  handle(frame, ws) {
    switch (frame.type) {
      case "snapshot":
        this.epoch = frame.epoch;
        this.seq = frame.seq;
        this.onSnapshot(frame.state);
        this.live();
        break;
      case "resumed":
        this.epoch = frame.epoch;
        this.live();
        break;
      case "event":
        if (this.seq !== null && frame.seq <= this.seq) return; // already have it
        if (this.seq !== null && frame.seq !== this.seq + 1) {
          // something was lost: start over from a fresh snapshot
          this.epoch = null;
          this.seq = null;
          ws.close(4001, "gap");
          return;
        }
        this.seq = frame.seq;
        this.onEvent(frame);
        break;
      default:
        break; // ping
    }
  }
}
