// The REST client: one place that knows the API base URL, the bearer token and the error shape
// {"detail": "...", "code": "..."}. Pure (fetch and XMLHttpRequest are injected) so errors are unit-tested.

export class ApiError extends Error {
  /**
   * @param {number} status  HTTP status, 0 when the server could not be reached
   * @param {string} code    the server's error code, or "network" / "bad_response" from the client
   * @param {string} detail  the server's sentence (English), shown when we have no better translation
   */
  constructor(status, code, detail) {
    super(detail || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** Turn a non-2xx response body into an ApiError, whatever the body looks like. */
export function errorFromBody(status, text) {
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (body && typeof body === "object") {
    let detail = body.detail;
    // FastAPI's default 422 body has detail as a list of {loc, msg}.
    if (Array.isArray(detail)) detail = detail.map((d) => d && d.msg).filter(Boolean).join("; ");
    if (typeof detail !== "string") detail = "";
    return new ApiError(status, typeof body.code === "string" ? body.code : `http_${status}`, detail);
  }
  return new ApiError(status, `http_${status}`, "");
}

/** The base URL without a trailing slash ("" means the same origin as the page). */
export function normalizeBase(base) {
  return (base || "").trim().replace(/\/+$/, "");
}

/** ws(s):// URL for an API path, from an http(s) base or the page's own origin. */
export function websocketUrl(base, path, origin) {
  const root = normalizeBase(base) || origin;
  return root.replace(/^http/, "ws") + path;
}

export class ApiClient {
  /**
   * @param {{base?: string, getToken?: () => string|null, fetch?: typeof fetch,
   *          XMLHttpRequest?: typeof XMLHttpRequest, onUnauthorized?: (e: ApiError) => void}} options
   */
  constructor(options = {}) {
    this.base = normalizeBase(options.base);
    this.getToken = options.getToken || (() => null);
    this.fetchImpl = options.fetch || globalThis.fetch.bind(globalThis);
    this.Xhr = options.XMLHttpRequest || globalThis.XMLHttpRequest;
    this.onUnauthorized = options.onUnauthorized || (() => {});
  }

  url(path, query) {
    let url = this.base + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) params.set(k, String(v));
      const qs = params.toString();
      if (qs) url += (url.includes("?") ? "&" : "?") + qs;
    }
    return url;
  }

  headers(extra = {}) {
    const token = this.getToken();
    return token ? { Authorization: `Bearer ${token}`, ...extra } : { ...extra };
  }

  fail(error) {
    if (error.status === 401) this.onUnauthorized(error);
    throw error;
  }

  /** Raw request; resolves to the Response for 2xx, throws ApiError otherwise. */
  async raw(method, path, { json, body, query, headers } = {}) {
    const init = { method, headers: this.headers(headers) };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers["Content-Type"] = "application/json";
    } else if (body !== undefined) {
      init.body = body;
    }
    let response;
    try {
      response = await this.fetchImpl(this.url(path, query), init);
    } catch (e) {
      throw new ApiError(0, "network", String(e && e.message ? e.message : e));
    }
    if (!response.ok) {
      let text = "";
      try {
        text = await response.text();
      } catch {
        text = "";
      }
      this.fail(errorFromBody(response.status, text));
    }
    return response;
  }

  /** JSON request; resolves to the parsed body (null for 204). */
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

  get(path, query) { return this.request("GET", path, { query }); }
  post(path, json, query) { return this.request("POST", path, { json, query }); }
  patch(path, json) { return this.request("PATCH", path, { json }); }
  delete(path) { return this.request("DELETE", path); }

  async blob(path, query) { return (await this.raw("GET", path, { query })).blob(); }
  async arrayBuffer(path) { return (await this.raw("GET", path)).arrayBuffer(); }

  /**
   * Upload one file as multipart `fieldName` with XHR (fetch has no upload progress).
   * @param {(fraction: number) => void} onProgress
   * @returns {{promise: Promise<any>, abort: () => void}}
   */
  upload(path, file, onProgress = () => {}, fieldName = "files") {
    const xhr = new this.Xhr();
    const promise = new Promise((resolve, reject) => {
      xhr.open("POST", this.url(path));
      for (const [k, v] of Object.entries(this.headers())) xhr.setRequestHeader(k, v);
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
          const error = errorFromBody(xhr.status, xhr.responseText);
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
