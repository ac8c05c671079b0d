// The /ws/ops client: the token in the first message, a snapshot, then ordered deltas by sequence number.
// After a drop it reconnects and resumes with {epoch, seq}: the center sends what was missed, or a fresh
// snapshot. A gap in the numbers, or silence longer than the center's heartbeat, also starts over.

const SILENCE_MS = 45000; // the center pings every 20 s when idle

export class OpsFeed {
  constructor({ token, onSnapshot, onEvent, onStatus = () => {}, onAuthFailed = () => {} }) {
    this.token = token;
    this.onSnapshot = onSnapshot;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onAuthFailed = onAuthFailed;
    this.epoch = null;
    this.seq = null;
    this.ws = null;
    this.backoff = 500;
    this.stopped = false;
    this.lastFrame = Date.now();
    this.watchdog = setInterval(() => {
      if (this.ws && this.ws.readyState === WebSocket.OPEN && Date.now() - this.lastFrame > SILENCE_MS) {
        this.ws.close(4000, "silent");
      }
    }, 5000);
  }

  start() {
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    if (this.ws) this.ws.close(1000, "bye");
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(`${scheme}${location.host}/ws/ops`);
    this.ws = ws;
    this.onStatus("connecting");
    ws.onopen = () => {
      const auth = { type: "auth", token: this.token };
      if (this.epoch !== null && this.seq !== null) auth.resume = { epoch: this.epoch, seq: this.seq };
      ws.send(JSON.stringify(auth));
    };
    ws.onmessage = (message) => {
      this.lastFrame = Date.now();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this.handle(frame, ws);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === 1008) {
        this.onStatus("refused");
        this.onAuthFailed(ev.reason || "refused");
        return;
      }
      if (this.stopped) return;
      this.onStatus("offline");
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  handle(frame, ws) {
    switch (frame.type) {
      case "snapshot":
        this.epoch = frame.epoch;
        this.seq = frame.seq;
        this.backoff = 500;
        this.onSnapshot(frame.state);
        this.onStatus("live");
        break;
      case "resumed":
        this.epoch = frame.epoch;
        this.backoff = 500;
        this.onStatus("live");
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
