// @ts-check
// Hash routes ("#/projects/3/dataset"): work from any static server and inside an LMS iframe.

/** @typedef {{[name: string]: string | undefined}} RouteParams  the :name parts of a route, decoded */

/**
 * Match a path against patterns like "/projects/:id/:tab"; returns {route, params} or null. Pure.
 * @template {{path: string}} R
 * @param {R[]} routes
 * @param {string} path
 * @returns {{route: R, params: Record<string, string>} | null}
 */
export function matchRoute(routes, path) {
  const parts = path.replace(/^#?\/?/, "").split("/").filter(Boolean);
  for (const route of routes) {
    const pattern = route.path.split("/").filter(Boolean);
    if (pattern.length !== parts.length) continue;
    /** @type {Record<string, string>} */
    const params = {};
    let ok = true;
    for (let i = 0; i < pattern.length; i++) {
      if (pattern[i].startsWith(":")) params[pattern[i].slice(1)] = decodeURIComponent(parts[i]);
      else if (pattern[i] !== parts[i]) { ok = false; break; }
    }
    if (ok) return { route, params };
  }
  return null;
}

/** @param {string} path  e.g. "/projects/3/dataset" */
export function navigate(path) {
  if (location.hash !== `#${path}`) location.hash = path;
  else window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function currentPath() {
  return location.hash.replace(/^#/, "") || "/";
}
