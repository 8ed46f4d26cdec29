// The live roster's stream (followSnapshots): every snapshot reaches the page, a dropped socket is opened again,
// a blocked one hands over to polling, and "gone / not yours" (4404) or "log in again" (4401) ends it for good.
import { test } from "node:test";
import assert from "node:assert/strict";
import { followSnapshots } from "../../frontend/src/api/ws.js";
import { ApiClient } from "../../frontend/src/api/client.js";

/** A WebSocket stand-in: the test opens, sends and closes each one by hand. */
class FakeSocket {
  static made = [];
  constructor(url, protocols) {
    Object.assign(this, { url, protocols, readyState: 0, onopen: null, onmessage: null, onclose: null });
    FakeSocket.made.push(this);
  }
  open() { this.readyState = 1; this.onopen?.(); }
  send(data) { this.onmessage?.({ data: JSON.stringify(data) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code }); }
  close() { this.readyState = 3; }
}

/** An API client whose GETs answer from `answers` (a function of the path) and record what was asked. */
function client(answers, unauthorized = () => {}) {
  const asked = [];
  const fetch = async (url) => {
    asked.push(new URL(url).pathname);
    const { status, body } = answers(new URL(url).pathname);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return { api: new ApiClient({ base: "", pageOrigin: "https://lab.example", getToken: () => "tok", fetch, onUnauthorized: unauthorized }), asked };
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

test("snapshots arrive over the socket, which carries the token as a subprotocol to the API's own origin", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  globalThis.WebSocket = FakeSocket;
  FakeSocket.made = [];
  const { api } = client(() => ({ status: 500, body: {} }));
  const seen = [], states = [];
  const stop = followSnapshots(api, "/api/classes/3/roster", (s) => seen.push(s), (s) => states.push(s));
  const socket = FakeSocket.made[0];
  assert.equal(socket.url, "wss://lab.example/api/classes/3/roster/ws");
  assert.deepEqual(socket.protocols, ["digitlab.bearer", "tok"]);
  socket.open();
  socket.send({ students: [1] });
  socket.send({ students: [1, 2] });
  assert.deepEqual(seen, [{ students: [1] }, { students: [1, 2] }]);
  assert.deepEqual(states, ["live"]);
  // A dropped connection is opened again after a pause.
  socket.drop();
  assert.equal(states.at(-1), "reconnecting");
  t.mock.timers.tick(600);
  assert.equal(FakeSocket.made.length, 2);
  stop();
  t.mock.timers.tick(10000);
  assert.equal(FakeSocket.made.length, 2, "nothing more after stop");
});

test("a socket that never opens hands over to polling the same path", async (t) => {
  globalThis.WebSocket = FakeSocket;
  FakeSocket.made = [];
  const { api, asked } = client(() => ({ status: 200, body: { students: ["polled"] } }));
  const seen = [], states = [];
  const stop = followSnapshots(api, "/api/classes/3/roster", (s) => seen.push(s), (s) => states.push(s));
  for (let attempt = 0; attempt < 3; attempt++) {
    await tick(1600); // the pauses between attempts grow: 0.5 s, 1 s, 1.5 s
    FakeSocket.made.at(-1).drop();
  }
  await tick(50);
  stop();
  assert.ok(asked.includes("/api/classes/3/roster"), `asked: ${asked}`);
  assert.deepEqual(seen, [{ students: ["polled"] }]);
  assert.ok(states.includes("polling"));
});

test("4404 ends the stream for good; 4401 also says the login ended", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  globalThis.WebSocket = FakeSocket;
  for (const code of [4404, 4401]) {
    FakeSocket.made = [];
    let loggedOut = 0;
    const { api } = client(() => ({ status: 200, body: {} }), () => { loggedOut++; });
    const states = [];
    followSnapshots(api, "/api/classes/9/roster", () => {}, (s) => states.push(s));
    FakeSocket.made[0].open();
    FakeSocket.made[0].drop(code);
    t.mock.timers.tick(60000);
    assert.equal(FakeSocket.made.length, 1, `${code}: not opened again`);
    assert.equal(states.at(-1), "ended");
    assert.equal(loggedOut, code === 4401 ? 1 : 0);
  }
});
