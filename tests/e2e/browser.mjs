// Shared by the browser scripts beside this file: headless Chromium (the system's, driven by playwright-core
// from frontend/node_modules, the only npm project in the repo), checks, and a context that stays offline.
import { createRequire } from "node:module";

const require = createRequire(new URL("../../frontend/package.json", import.meta.url));
const { chromium } = require("playwright-core");

export function check(cond, message) { if (!cond) throw new Error(`check failed: ${message}`); }

export function launch(executablePath) {
  return chromium.launch({
    executablePath, headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** The browser must never need the internet: record in `outside` (and refuse) any request not to `base`. */
export async function stayOn(context, base, outside) {
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    outside.push(url);
    return route.abort();
  });
}

/** Draw strokes with the mouse on the playground's pad (coordinates 0..1 of the pad). */
export async function drawStrokes(page, strokes, steps = 12) {
  const box = await page.locator("#drawpad").boundingBox();
  for (const stroke of strokes) {
    const [x0, y0] = stroke[0];
    await page.mouse.move(box.x + x0 * box.width, box.y + y0 * box.height);
    await page.mouse.down();
    for (const [x, y] of stroke.slice(1)) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps });
    await page.mouse.up();
  }
}
export const SEVEN = [[[0.25, 0.2], [0.75, 0.2], [0.45, 0.85]]];
export const ZERO = [[[0.5, 0.15], [0.3, 0.3], [0.28, 0.7], [0.5, 0.85], [0.7, 0.7], [0.72, 0.3], [0.5, 0.15]]];

/** Clearly blue (positive) and clearly orange (negative) pixels on the playground's activation canvas. */
export function countColours(page) {
  return page.evaluate(() => {
    const c = document.getElementById("activations");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let blue = 0, orange = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 2] > d[i] + 40) blue++;
      else if (d[i] > d[i + 2] + 40 && d[i + 1] > 60) orange++;
    }
    return { blue, orange };
  });
}

/**
 * Words in table cells that are broken across two lines inside the word (as with `word-break: break-all` or
 * `overflow-wrap: anywhere`), found as a reader would see them: the line boxes of each letter of each word. A break
 * after a hyphen or a slash is fine. Runs in the page: `page.evaluate(brokenWords)`.
 */
export function brokenWords() {
  const broken = [];
  for (const cell of document.querySelectorAll("table td, table th")) {
    if (!cell.getClientRects().length) continue; // not shown (a closed <details>)
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const rects = [...range.getClientRects()].filter((r) => r.width > 0);
        if (!rects.length || Math.max(...rects.map((r) => r.top)) - Math.min(...rects.map((r) => r.top)) < rects[0].height / 2) continue;
        // Which letter starts a new line?
        let previous = null;
        for (let i = 0; i < match[0].length; i++) {
          range.setStart(node, match.index + i);
          range.setEnd(node, match.index + i + 1);
          const box = [...range.getClientRects()].find((r) => r.width > 0);
          if (!box) continue;
          if (previous && box.top > previous.bottom - 1 && !/[-\u2010\u00ad/]/.test(match[0][i - 1])) {
            broken.push(`"${match[0].slice(0, i)}|${match[0].slice(i)}" in ${cell.tagName.toLowerCase()} "${cell.textContent.trim().slice(0, 40)}"`);
            break;
          }
          previous = box;
        }
      }
    }
  }
  return broken;
}
