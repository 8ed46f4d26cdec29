// The API client's error handling: every failure becomes an ApiError with status, code and detail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiClient as BaseClient, ApiError, errorFromBody, parseRetryAfter, websocketUrl, normalizeBase, apiOrigin } from "../../frontend/src/api/client.js";

const PAGE = "http://school.example:8000";
/** A client as the app builds it, on a page served from PAGE. */
class ApiClient extends BaseClient {
  constructor(options = {}) { super({ pageOrigin: PAGE, ...options }); }
}

function fakeFetch(status, body, calls = []) {
  return async (url, init) => {
    calls.push({ url, init });
    return new Response(body, { status, headers: { "Content-Type": "application/json" } });
  };
}

test("a server error becomes ApiError with the server's code and sentence", async () => {
  const api = new ApiClient({ fetch: fakeFetch(409, JSON.stringify({ detail: "That name is taken.", code: "username_taken" })) });
  await assert.rejects(api.post("/api/auth/register", {}), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 409);
    assert.equal(e.code, "username_taken");
    assert.equal(e.detail, "That name is taken.");
    return true;
  });
});

test("a non-JSON error body still gives a status-based code", () => {
  const e = errorFromBody(502, "<html>Bad Gateway</html>");
  assert.equal(e.code, "http_502");
  assert.equal(e.detail, "");
});

test("FastAPI's list-shaped detail is joined into a sentence", () => {
  const e = errorFromBody(422, JSON.stringify({ detail: [{ msg: "field required" }, { msg: "too short" }] }));
  assert.equal(e.detail, "field required; too short");
  assert.equal(e.code, "http_422");
});

test("an unreachable server is a network error, status 0", async () => {
  const api = new ApiClient({ fetch: async () => { throw new TypeError("Failed to fetch"); } });
  await assert.rejects(api.get("/api/projects"), (e) => e.status === 0 && e.code === "network");
});

test("401 calls onUnauthorized so the app can return to the login", async () => {
  let called = null;
  const api = new ApiClient({
    fetch: fakeFetch(401, JSON.stringify({ detail: "Please log in first.", code: "not_authenticated" })),
    onUnauthorized: (e) => { called = e.code; },
  });
  await assert.rejects(api.get("/api/auth/me"));
  assert.equal(called, "not_authenticated");
});

test("the bearer token, base URL and query are used", async () => {
  const calls = [];
  const api = new ApiClient({ base: "https://api.example.org/", getToken: () => "tok", fetch: fakeFetch(200, "[1]", calls) });
  assert.deepEqual(await api.get("/api/projects", { a: 1, b: null }), [1]);
  assert.equal(calls[0].url, "https://api.example.org/api/projects?a=1");
  assert.equal(calls[0].init.headers.Authorization, "Bearer tok");
});

test("204 resolves to null; a 200 that is not JSON is a bad_response", async () => {
  assert.equal(await new ApiClient({ fetch: async () => new Response(null, { status: 204 }) }).delete("/x"), null);
  const api = new ApiClient({ fetch: fakeFetch(200, "not json") });
  await assert.rejects(api.get("/x"), (e) => e.code === "bad_response");
});

test("upload reports progress and rejects with the server's error", async () => {
  class FakeXhr {
    constructor() { this.upload = {}; this.headers = {}; }
    open(method, url) { this.url = url; }
    setRequestHeader(k, v) { this.headers[k] = v; }
    send() {
      this.upload.onprogress({ lengthComputable: true, loaded: 50, total: 100 });
      this.status = 415;
      this.responseText = JSON.stringify({ detail: "This file is not an image.", code: "unsupported_media_type" });
      this.onload();
    }
    abort() {}
  }
  globalThis.FormData ??= class { append() {} };
  const seen = [];
  const api = new ApiClient({ XMLHttpRequest: FakeXhr, getToken: () => "t", fetch: async () => {} });
  const { promise } = api.upload("/api/projects/1/scans", new Blob(["x"]), (f) => seen.push(f));
  await assert.rejects(promise, (e) => e.code === "unsupported_media_type" && e.status === 415);
  assert.deepEqual(seen, [0.5]);
});

test("websocket URLs are built on the API's origin", () => {
  assert.equal(websocketUrl("https://api.example.org", "/ws"), "wss://api.example.org/ws");
  assert.equal(websocketUrl("http://localhost:8000", "/ws"), "ws://localhost:8000/ws");
  assert.equal(normalizeBase(" http://a/// "), "http://a");
});

test("the API origin is the deployment's absolute http(s) base or the page's own origin", () => {
  assert.equal(apiOrigin("", PAGE), PAGE);
  assert.equal(apiOrigin("https://api.example.org/v1/", PAGE), "https://api.example.org");
  assert.equal(apiOrigin("javascript:alert(1)", PAGE), PAGE);
  assert.equal(apiOrigin("//evil.example", PAGE), PAGE);
  assert.equal(apiOrigin("not a url", PAGE), PAGE);
});

test("requests go to the page's origin by default, with the token", async () => {
  const calls = [];
  const api = new ApiClient({ getToken: () => "tok", fetch: fakeFetch(200, "{}", calls) });
  await api.get("/api/auth/me");
  assert.equal(calls[0].url, `${PAGE}/api/auth/me`);
  assert.equal(calls[0].init.headers.Authorization, "Bearer tok");
  assert.equal(calls[0].init.credentials, "omit");
});

test("nothing but an API path can be requested: no other host ever sees the token", async () => {
  const calls = [];
  const api = new ApiClient({ getToken: () => "tok", fetch: fakeFetch(200, "{}", calls) });
  for (const path of ["http://attacker:9999/api/projects", "//attacker:9999/api/projects", "/\\attacker/x", "api/x", ""]) {
    await assert.rejects(api.get(path), (e) => e.code === "bad_path", path);
  }
  assert.equal(calls.length, 0);
  assert.throws(() => api.upload("https://attacker/x", new Blob(["x"])), (e) => e.code === "bad_path");
});

test("a token is not attached to a URL on another origin", () => {
  const api = new ApiClient({ getToken: () => "tok" });
  assert.deepEqual(api.headers("http://attacker:9999/api/projects"), {});
  assert.deepEqual(api.headers(`${PAGE}/api/projects`), { Authorization: "Bearer tok" });
});

test("a 429 keeps its Retry-After, and an error keeps its extra fields", async () => {
  const api = new ApiClient({ fetch: async () => new Response(
    JSON.stringify({ detail: "Too many wrong passwords for this account. Please wait 2 minutes and try again.", code: "too_many_attempts" }),
    { status: 429, headers: { "Content-Type": "application/json", "Retry-After": "97" } }) });
  await assert.rejects(api.post("/api/auth/login", {}), (e) => e.code === "too_many_attempts" && e.retryAfter === 97);
  const quota = errorFromBody(413, JSON.stringify({ detail: "Full.", code: "quota_exceeded", limit_bytes: 10, used_bytes: 9, errors: [] }));
  assert.deepEqual(quota.extra, { limit_bytes: 10, used_bytes: 9 });
  assert.equal(quota.retryAfter, null);
});

test("Retry-After is read as seconds or as a date; anything else is unknown", () => {
  assert.equal(parseRetryAfter("120"), 120);
  assert.equal(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")), 30);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter("soon"), null);
});

test("an upload's 429 keeps its Retry-After", async () => {
  class FakeXhr {
    constructor() { this.upload = {}; }
    open() {}
    setRequestHeader() {}
    getResponseHeader(name) { return name === "Retry-After" ? "30" : null; }
    send() {
      this.status = 429;
      this.responseText = JSON.stringify({ detail: "Slow down.", code: "http_429" });
      this.onload();
    }
    abort() {}
  }
  globalThis.FormData ??= class { append() {} };
  const api = new ApiClient({ XMLHttpRequest: FakeXhr, fetch: async () => {} });
  await assert.rejects(api.upload("/api/projects/1/scans", new Blob(["x"])).promise, (e) => e.retryAfter === 30);
});
