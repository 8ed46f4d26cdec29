// The training stream: a WebSocket that replays everything so far, then live messages. Reconnects after a
// dropped connection and drops messages it already has (by `seq`); falls back to polling the history route
// when WebSockets are blocked (some school proxies do that).
import { websocketUrl } from "./client.js";

/**
 * @param {import("./client.js").ApiClient} api
 * @param {string} path  "/api/projects/{pid}/trainings/{tid}"
 * @param {(message: object) => void} onMessage  every message once, in order
 * @returns {() => void} stop
 */
export function followTraining(api, path, onMessage) {
  let stopped = false;
  let lastSeq = -1;
  let socket = null;
  let failures = 0;
  let timer = null;
  let ended = false;

  const deliver = (m) => {
    if (typeof m.seq === "number") {
      if (m.seq <= lastSeq) return;
      lastSeq = m.seq;
    }
    if (m.type === "end") ended = true;
    onMessage(m);
  };

  const poll = async () => {
    if (stopped || ended) return;
    try {
      const history = await api.get(`${path}/history`);
      for (const m of Array.isArray(history) ? history : history.messages || []) deliver(m);
    } catch (error) {
      // Gone or not ours (404/401/403): asking again will not help. Anything else: try on the next tick.
      if (error && error.status >= 400 && error.status < 500) return;
    }
    if (!stopped && !ended) timer = setTimeout(poll, 1000);
  };

  const connect = () => {
    if (stopped || ended) return;
    const url = websocketUrl(api.base, `${path}/ws?token=${encodeURIComponent(api.getToken() || "")}`, location.origin);
    let opened = false;
    try {
      socket = new WebSocket(url);
    } catch {
      poll();
      return;
    }
    socket.onopen = () => { opened = true; failures = 0; };
    socket.onmessage = (e) => {
      try { deliver(JSON.parse(e.data)); } catch { /* ignore a malformed frame */ }
    };
    socket.onclose = () => {
      if (stopped || ended) return;
      failures += opened ? 0 : 1;
      if (failures >= 3) poll();
      else timer = setTimeout(connect, 500 * (failures + 1));
    };
  };

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (socket && socket.readyState <= 1) socket.close();
  };
}
