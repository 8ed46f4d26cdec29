// @ts-check
// Pure helpers of the dataset screen (tested in tests/frontend without a browser).

/** The printed sheet's grid (backend/digitlab/pipeline/template.py): 20 columns, 30 rows. */
export const SHEET_COLUMNS = 20;
export const SHEET_ROWS = 30;

/**
 * The cell to move to for a key in a grid of `count` cells laid out `columns` wide; null when the key does not move.
 * @param {string} key  a KeyboardEvent.key
 * @param {number} index @param {number} count @param {number} columns
 * @returns {number | null}
 */
export function nextIndex(key, index, count, columns) {
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns }[key];
  if (key === "Home") return 0;
  if (key === "End") return count - 1;
  if (step === undefined || !count) return null;
  return Math.min(count - 1, Math.max(0, index + step));
}

/**
 * The outline of the cell at (row, col) on the page: the grid's corners (TL, TR, BR, BL in the scan's pixels, as the
 * extraction found them) interpolated, scaled by `scale` (the thumbnail's size over the scan's). Null without corners.
 * @param {number[][] | null | undefined} corners
 * @param {number} row @param {number} col @param {number} scale
 * @returns {number[][] | null}  four [x, y] points
 */
export function cellOnPage(corners, row, col, scale) {
  if (!Array.isArray(corners) || corners.length !== 4) return null;
  const [tl, tr, br, bl] = corners;
  /** @param {number} u @param {number} v */
  const at = (u, v) => [0, 1].map((k) => scale * ((1 - u) * (1 - v) * tl[k] + u * (1 - v) * tr[k] + u * v * br[k] + (1 - u) * v * bl[k]));
  const u0 = col / SHEET_COLUMNS, u1 = (col + 1) / SHEET_COLUMNS, v0 = row / SHEET_ROWS, v1 = (row + 1) / SHEET_ROWS;
  return [at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)];
}
