// @ts-check
// The grid's four corners placed by hand (top-left, top-right, bottom-right, bottom-left), in the page's pixels:
// where to start them, keeping them on the page, and the same check the server makes before it accepts them.

/** @typedef {[number, number]} Point */

/** Where the handles start on a page without detected corners: the printed grid's usual place on an A4 sheet.
 * @param {number} width @param {number} height
 * @returns {Point[]} */
export function defaultCorners(width, height) {
  const [l, r, t, b] = [0.1, 0.93, 0.05, 0.97];
  return [[l * width, t * height], [r * width, t * height], [r * width, b * height], [l * width, b * height]];
}

/** A point kept on the page (pixel centres 0 .. size - 1).
 * @param {Point} p @param {number} width @param {number} height @returns {Point} */
export function clampToPage([x, y], width, height) {
  return [Math.min(Math.max(x, 0), width - 1), Math.min(Math.max(y, 0), height - 1)];
}

/** Whether the four corners make a grid the server accepts: the grid's TL TR BR BL, convex (every turn the same
 * way: clockwise on screen, or counter-clockwise on a page a scanner mirrored), and covering at least
 * `minFraction` of the page (the server's MIN_GRID_FRACTION).
 * @param {Point[]} c @param {number} width @param {number} height @param {number} [minFraction] */
export function cornersValid(c, width, height, minFraction = 0.02) {
  if (c.length !== 4) return false;
  let area = 0;
  const turns = [];
  for (let i = 0; i < 4; i++) {
    const [a, b, d] = [c[i], c[(i + 1) % 4], c[(i + 2) % 4]];
    turns.push((b[0] - a[0]) * (d[1] - b[1]) - (b[1] - a[1]) * (d[0] - b[0]));
    area += a[0] * b[1] - b[0] * a[1];
  }
  const oneWay = turns.every((t) => t > 0) || turns.every((t) => t < 0);
  return oneWay && Math.abs(area / 2) >= minFraction * width * height;
}

/** Page pixels -> percent of the shown image (the handles are placed in %, so the editor scales with the screen).
 * @param {Point} p @param {number} width @param {number} height @returns {Point} */
export function toPercent([x, y], width, height) {
  return [((x + 0.5) / width) * 100, ((y + 0.5) / height) * 100];
}

/** A pointer's position over the shown image (CSS px in a box of boxWidth x boxHeight) -> page pixels.
 * @param {number} px @param {number} py @param {number} boxWidth @param {number} boxHeight
 * @param {number} width @param {number} height @returns {Point} */
export function fromBox(px, py, boxWidth, boxHeight, width, height) {
  return clampToPage([(px / boxWidth) * width - 0.5, (py / boxHeight) * height - 0.5], width, height);
}
