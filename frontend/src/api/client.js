// @ts-check
// The REST client: one place that knows the API base URL, the bearer token and the error shape
// {"detail": "...", "code": "..."}. Pure (fetch and XMLHttpRequest are injected) so errors are unit-tested.

export class ApiError extends Error {
  /**
   * @param {number} status  HTTP status, 0 when the server could not be reached
   * @param {string} code    the server's error code, or "network" / "bad_response" from the client
   * @param {string} detail  the server's sentence (English), shown when we have no better translation
   * @param {{retryAfter?: number | null, extra?: Record<string, unknown>}} [more]
   *   retryAfter: seconds to wait (the Retry-After header of a 429), when the answer had one;
   *   extra: the error's other fields (e.g. a quota's limit_bytes, a file's filename)
   */
  constructor(status, code, detail, { retryAfter = null, extra = {} } = {}) {
    super(detail || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.extra = extra;
  }
}

/**
 * Seconds to wait from a Retry-After header (seconds or an HTTP date); null when missing or unreadable.
 * @param {string | null | undefined} value
 * @param {number} [now]  ms since the epoch (for tests)
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (!value) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * Turn a non-2xx response body into an ApiError, whatever the body looks like.
 * @param {number} status
 * @param {string} text
 * @param {string | null} [retryAfterHeader]  the answer's Retry-After header, if it could be read
 */
export function errorFromBody(status, text, retryAfterHeader = null) {
  const retryAfter = parseRetryAfter(retryAfterHeader);
  /** @type {any} */
  let body;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const { detail: rawDetail, code } = body;
    // The error's other fields (a quota's sizes, the file concerned ...); a 422's field list is left out.
    const extra = Object.fromEntries(Object.entries(body).filter(([k]) => !["detail", "code", "errors"].includes(k)));
    let detail = rawDetail;
    // FastAPI's default 422 body has detail as a list of {loc, msg}.
    if (Array.isArray(detail)) detail = detail.map((d) => d && d.msg).filter(Boolean).join("; ");
    if (typeof detail !== "string") detail = "";
    return new ApiError(status, typeof code === "string" ? code : `http_${status}`, detail, { retryAfter, extra });
  }
  return new ApiError(status, `http_${status}`, "", { retryAfter });
}

/**
 * The base URL without a trailing slash ("" means the same origin as the page).
 * @param {string | null | undefined} base
 */
export function normalizeBase(base) {
  return (base || "").trim().replace(/\/+$/, "");
}

/**
 * The API's origin: the deployment's base URL (an absolute http(s) URL) or, when that is empty or
 * anything else, the page's own origin. Never taken from the page's address or from user input.
 * @param {string} base
 * @param {string} pageOrigin
 */
export function apiOrigin(base, pageOrigin) {
  const normalized = normalizeBase(base);
  if (!normalized) return pageOrigin;
  try {
    const url = new URL(normalized);
    if (url.protocol === "http:" || url.protocol === "https:") return url.origin;
  } catch { /* not an absolute URL: fall through to the page's origin */ }
  return pageOrigin;
}

/**
 * ws(s):// URL for an API path on the given http(s) origin.
 * @param {string} origin
 * @param {string} path
 */
export function websocketUrl(origin, path) {
  return origin.replace(/^http/, "ws") + path;
}

/** The WebSocket subprotocol that carries the bearer token (a query string would end up in logs). */
export const BEARER_SUBPROTOCOL = "digitlab.bearer";

/** @typedef {Record<string, string | number | boolean | null | undefined>} Query  null/undefined are left out */
/**
 * @typedef {{json?: unknown, body?: BodyInit, query?: Query, headers?: Record<string, string>}} RequestOptions
 * json is sent as JSON; body as it is (FormData, Blob ...).
 */

export class ApiClient {
  /**
   * @param {{base?: string, pageOrigin?: string, getToken?: () => string|null, fetch?: typeof fetch,
   *          XMLHttpRequest?: typeof XMLHttpRequest, onUnauthorized?: (e: ApiError) => void}} options
   */
  constructor(options = {}) {
    // Fixed for the client's lifetime: the token is only ever sent to this origin.
    this.origin = apiOrigin(options.base || "", options.pageOrigin || globalThis.location?.origin || "");
    this.getToken = options.getToken || (() => null);
    this.fetchImpl = options.fetch || globalThis.fetch.bind(globalThis);
    this.Xhr = options.XMLHttpRequest || globalThis.XMLHttpRequest;
    this.onUnauthorized = options.onUnauthorized || (() => {});
  }

  /**
   * Absolute URL of an API path ("/api/..."); anything that could name another host is refused.
   * @param {string} path
   * @param {Query} [query]
   */
  url(path, query) {
    if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//") || path.includes("\\")) {
      throw new ApiError(0, "bad_path", `Not an API path: ${path}`);
    }
    let url = this.origin + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += (url.includes("?") ? "&" : "?") + qs;
    }
    return url;
  }

  /**
   * Request headers for `url`: the bearer token only when the URL is on the API's own origin.
   * @param {string} url
   * @param {Record<string, string>} [extra]
   * @returns {Record<string, string>}
   */
  headers(url, extra = {}) {
    const token = this.getToken();
    if (!token || new URL(url).origin !== this.origin) return { ...extra };
    return { Authorization: `Bearer ${token}`, ...extra };
  }

  /**
   * @param {ApiError} error
   * @returns {never}
   */
  fail(error) {
    if (error.status === 401) this.onUnauthorized(error);
    throw error;
  }

  /**
   * Raw request; resolves to the Response for 2xx, throws ApiError otherwise.
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<Response>}
   */
  async raw(method, path, { json, body, query, headers } = {}) {
    const url = this.url(path, query);
    /** @type {RequestInit & {headers: Record<string, string>}} */
    const init = { method, headers: this.headers(url, headers), credentials: "omit", redirect: "error" };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers["Content-Type"] = "application/json";
    } else if (body !== undefined) {
      init.body = body;
    }
    let response;
    try {
      response = await this.fetchImpl(url, init);
    } catch (e) {
      throw new ApiError(0, "network", String(e instanceof Error && e.message ? e.message : e));
    }
    if (!response.ok) {
      let text;
      try {
        text = await response.text();
      } catch {
        text = "";
      }
      this.fail(errorFromBody(response.status, text, response.headers?.get("Retry-After")));
    }
    return response;
  }

  /**
   * JSON request; resolves to the parsed body (null for 204). Callers declare the payload's type on the
   * variable they assign it to, with a type from api/types.d.ts (generated from /openapi.json).
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<any>}
   */
  async request(method, path, options) {
    const response = await this.raw(method, path, options);
    if (response.status === 204) return null;
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(response.status, "bad_response", "The server sent something that is not JSON.");
    }
  }

  /** @param {string} path @param {Query} [query] */
  get(path, query) { return this.request("GET", path, { query }); }
  /** @param {string} path @param {unknown} [json] @param {Query} [query] */
  post(path, json, query) { return this.request("POST", path, { json, query }); }
  /** @param {string} path @param {unknown} json */
  patch(path, json) { return this.request("PATCH", path, { json }); }
  /** @param {string} path @param {unknown} json */
  put(path, json) { return this.request("PUT", path, { json }); }
  /** @param {string} path */
  delete(path) { return this.request("DELETE", path); }

  /** @param {string} path @param {Query} [query] */
  async blob(path, query) { return (await this.raw("GET", path, { query })).blob(); }
  /** @param {string} path */
  async arrayBuffer(path) { return (await this.raw("GET", path)).arrayBuffer(); }

  /**
   * Upload one file as multipart `fieldName` with XHR (fetch has no upload progress).
   * @param {string} path
   * @param {File} file
   * @param {(fraction: number) => void} [onProgress]
   * @param {string} [fieldName]
   * @returns {{promise: Promise<any>, abort: () => void}}
   */
  upload(path, file, onProgress = () => {}, fieldName = "files") {
    const url = this.url(path);
    const xhr = new this.Xhr();
    const promise = new Promise((resolve, reject) => {
      xhr.open("POST", url);
      for (const [k, v] of Object.entries(this.headers(url))) xhr.setRequestHeader(k, v);
      if (xhr.upload) {
        xhr.upload.onprogress = (e) => { if (e.lengthComputable && e.total) onProgress(e.loaded / e.total); };
      }
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          try {
            resolve(xhr.responseText ? JSON.parse(xhr.responseText) : null);
          } catch {
            reject(new ApiError(xhr.status, "bad_response", "The server sent something that is not JSON."));
          }
        } else {
          const retryAfter = typeof xhr.getResponseHeader === "function" ? xhr.getResponseHeader("Retry-After") : null;
          const error = errorFromBody(xhr.status, xhr.responseText, retryAfter);
          if (error.status === 401) this.onUnauthorized(error);
          reject(error);
        }
      };
      xhr.onerror = () => reject(new ApiError(0, "network", "The upload could not reach the server."));
      xhr.onabort = () => reject(new ApiError(0, "aborted", "The upload was cancelled."));
      const form = new FormData();
      form.append(fieldName, file, file.name);
      xhr.send(form);
    });
    return { promise, abort: () => xhr.abort() };
  }
}
