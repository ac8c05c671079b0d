// The socket base of every page: /ws/ops (wall, console) and /ws/unit (the phone). It sends the token in
// the first message, reconnects with a growing delay after a drop, and closes and reopens a socket that
// hears nothing for too long (a half-open connection looks open to the browser but never delivers a
// frame again). The center sends a {"type": "ping"} frame on both sockets when it has had nothing to
// send for 20 s (realtime/sessions.py), so silence past SILENCE_MS means the connection is gone.
//
// Close codes (docs/api.md, "Sockets"): 1008 (bad or expired token, wrong role, retired unit) stops: the
// same token would be refused again; 1011 (the center cannot reach its stores) retries after a few
// seconds; any other close (a network drop, 1001 when the center restarts, the watchdog's 4000) retries
// with the backoff. 1003, 1007 and 1009 mean this client sent something wrong: it is logged, then retried.

const SILENCE_MS = 45000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;
const UNAVAILABLE_WAIT_MS = 3000; // after 1011
export const CLOSE = { POLICY: 1008, UNAVAILABLE: 1011, SILENT: 4000, CLIENT_BUG: [1003, 1007, 1009] };

// how long a socket may stay silent: 45 s, or `?silence_s=N` in the page's address (at least 1 s), so
// that a test need not wait for the real figure
export function silenceMs() {
  const asked = Number(new URLSearchParams(location.search).get("silence_s"));
  return Number.isFinite(asked) && asked >= 1 ? asked * 1000 : SILENCE_MS;
}

export class Socket {
  // `path`: "/ws/ops" or "/ws/unit"; `onStatus(state)`: "connecting", "live", "offline" or "refused";
  // `onRefused(reason)`: after a 1008. A subclass implements handle(frame, ws), may extend auth(), and
  // calls live() when the center has accepted it (its first snapshot or hello).
  constructor({ path, token, onStatus = () => {}, onRefused = () => {} }) {
    this.path = path;
    this.token = token;
    this.onStatus = onStatus;
    this.onRefused = onRefused;
    this.ws = null;
    this.backoff = BACKOFF_FIRST_MS;
    this.stopped = false;
    this.silence = silenceMs();
    this.lastFrame = Date.now();
    this.watchdog = setInterval(() => this.checkSilence(), Math.min(5000, Math.max(250, this.silence / 4)));
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

  get open() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  // the first message: {type: "auth", token}; a subclass adds what it resumes from
  auth() {
    return { type: "auth", token: this.token };
  }

  // the center took this connection: the next drop starts the backoff over
  live() {
    this.backoff = BACKOFF_FIRST_MS;
    this.onStatus("live");
  }

  // the connection is gone (before a reconnect or the stop after 1008); a subclass fails what waits on it
  dropped() {}

  handle() {}

  send(message) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  checkSilence() {
    if (this.open && Date.now() - this.lastFrame > this.silence) this.ws.close(CLOSE.SILENT, "silent");
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(`${scheme}${location.host}${this.path}`);
    this.ws = ws;
    this.onStatus("connecting");
    ws.onopen = () => {
      this.lastFrame = Date.now(); // the silence counts from here, not from before the drop
      ws.send(JSON.stringify(this.auth()));
    };
    ws.onmessage = (message) => {
      if (this.ws !== ws) return;
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
      this.dropped();
      if (ev.code === CLOSE.POLICY) {
        this.onStatus("refused");
        this.onRefused(ev.reason || "refused");
        return;
      }
      if (this.stopped) return;
      if (CLOSE.CLIENT_BUG.includes(ev.code)) console.warn(`${this.path} closed ${ev.code}: ${ev.reason}`);
      this.onStatus("offline");
      const wait = ev.code === CLOSE.UNAVAILABLE ? Math.max(this.backoff, UNAVAILABLE_WAIT_MS) : this.backoff;
      setTimeout(() => this.connect(), wait);
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    };
  }
}
