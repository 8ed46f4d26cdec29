// @ts-check
// Live streams over WebSockets. The training stream replays everything so far, then live messages, and drops
// messages it already has (by `seq`); a live object (a class's roster) arrives whole, again at every change. Both
// reconnect after a dropped connection and fall back to polling when WebSockets are blocked (some school proxies
// do that).
import { ApiError, BEARER_SUBPROTOCOL, websocketUrl } from "./client.js";

/** @typedef {import("./types").TrainingMessage} TrainingMessage */

/** Failed connection attempts in a row after which the stream polls instead. */
const ATTEMPTS_BEFORE_POLLING = 3;

/**
 * The socket at `${path}/ws` (the token travels as a subprotocol: browsers cannot set headers on a WebSocket, and a
 * query string would end up in access logs; only to the API's own origin), opened again after a drop with a growing
 * pause, handing over to `on.poll` after failed attempts in a row.
 * @param {import("./client.js").ApiClient} api
 * @param {string} path
 * @param {{message: (data: any) => void, poll: () => void, done: () => boolean, opened?: () => void,
 *          closed?: (event: CloseEvent) => boolean}} on
 *   message: each frame's JSON; done: whether the stream is over (no reconnect); closed: told of each close,
 *   answers true when that close ends the stream for good
 * @returns {() => void} stop: closes the socket, cancels a pending reconnect
 */
function keepSocket(api, path, on) {
  /** @type {WebSocket | null} */
  let socket = null;
  let failures = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const connect = () => {
    if (on.done()) return;
    let opened = false;
    try {
      socket = new WebSocket(websocketUrl(api.origin, `${path}/ws`), [BEARER_SUBPROTOCOL, api.getToken() || ""]);
    } catch {
      on.poll();
      return;
    }
    socket.onopen = () => { opened = true; failures = 0; if (on.opened) on.opened(); };
    socket.onmessage = (e) => {
      try { on.message(JSON.parse(e.data)); } catch { /* ignore a malformed frame */ }
    };
    socket.onclose = (e) => {
      if (on.done() || (on.closed && on.closed(e))) return;
      failures += opened ? 0 : 1;
      if (failures >= ATTEMPTS_BEFORE_POLLING) on.poll();
      else timer = setTimeout(connect, 500 * (failures + 1));
    };
  };
  connect();
  return () => {
    clearTimeout(timer);
    if (socket && socket.readyState <= 1) socket.close();
  };
}

/**
 * @param {import("./client.js").ApiClient} api
 * @param {string} path  "/api/projects/{pid}/trainings/{tid}"
 * @param {(message: TrainingMessage) => void} onMessage  every message once, in order
 * @returns {() => void} stop
 */
export function followTraining(api, path, onMessage) {
  let stopped = false;
  let lastSeq = -1;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let ended = false;

  /** @param {TrainingMessage} m */
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
      /** @type {TrainingMessage[] | {messages?: TrainingMessage[]}} */
      const history = await api.get(`${path}/history`);
      for (const m of Array.isArray(history) ? history : history.messages || []) deliver(m);
    } catch (error) {
      // Gone or not ours (404/401/403): asking again will not help. Anything else: try on the next tick.
      const status = error instanceof ApiError ? error.status : 0;
      if (status >= 400 && status < 500) return;
    }
    if (!stopped && !ended) timer = setTimeout(poll, 1000);
  };

  const closeSocket = keepSocket(api, path, { message: deliver, poll, done: () => stopped || ended });
  return () => {
    stopped = true;
    clearTimeout(timer);
    closeSocket();
  };
}

/**
 * A live object (e.g. a class's roster): the WebSocket at `${path}/ws` sends the whole object at once and again
 * whenever it changes; without WebSockets, `path` is asked every few seconds. Stops for good when the server says
 * the object is gone or not ours (4404) or the login ended (4401).
 * @template T
 * @param {import("./client.js").ApiClient} api
 * @param {string} path  e.g. "/api/classes/3/roster"
 * @param {(snapshot: T) => void} onSnapshot  every new state
 * @param {(state: "live" | "polling" | "reconnecting" | "ended") => void} [onState]  how the page gets it
 * @returns {() => void} stop
 */
export function followSnapshots(api, path, onSnapshot, onState = () => {}) {
  let stopped = false;
  let ended = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const POLL_MS = 3000;

  const poll = async () => {
    if (stopped) return;
    onState("polling");
    try {
      onSnapshot(await api.get(path));
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 0;
      if (status >= 400 && status < 500) { onState("ended"); return; }
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  };

  const closeSocket = keepSocket(api, path, {
    message: onSnapshot, poll, done: () => stopped || ended,
    opened: () => onState("live"),
    closed: (e) => {
      if (e.code !== 4404 && e.code !== 4401) { onState("reconnecting"); return false; }
      ended = true;
      onState("ended");
      if (e.code === 4401) api.onUnauthorized(new ApiError(401, "not_authenticated", ""));
      return true;
    },
  });
  return () => {
    stopped = true;
    clearTimeout(timer);
    closeSocket();
  };
}
