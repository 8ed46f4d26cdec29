// @ts-check
// Text on coloured backgrounds (the confusion matrix) readable at WCAG AA: a contrast of at least 4.5:1.

/** @typedef {[number, number, number]} RGB  0..255 */

export const DARK_TEXT = /** @type {RGB} */ ([29, 29, 31]); // --fg
export const LIGHT_TEXT = /** @type {RGB} */ ([255, 255, 255]);

/** WCAG relative luminance. @param {RGB} rgb */
export function luminance(rgb) {
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** @param {RGB} a @param {RGB} b */
export function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * A cell's background: `colour` at `alpha` over white, darkened where needed so that the better of dark and white
 * text reaches 4.5:1 (mid-tones exist where neither does), and that text colour. CSS strings.
 * @param {RGB} colour @param {number} alpha 0..1
 * @returns {{background: string, color: string}}
 */
export function readableCell(colour, alpha) {
  /** @type {RGB} */
  let bg = /** @type {RGB} */ (colour.map((c) => Math.round(255 + (c - 255) * alpha)));
  for (let i = 0; i < 40; i++) {
    if (contrast(bg, DARK_TEXT) >= 4.5) return { background: css(bg), color: css(DARK_TEXT) };
    if (contrast(bg, LIGHT_TEXT) >= 4.5) return { background: css(bg), color: css(LIGHT_TEXT) };
    bg = /** @type {RGB} */ (bg.map((c) => Math.round(c * 0.95)));
  }
  return { background: css(bg), color: css(LIGHT_TEXT) };
}

/** @param {RGB} rgb */
const css = (rgb) => `rgb(${rgb.join(", ")})`;
