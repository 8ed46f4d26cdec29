// @ts-check
// Two trainings' curves of one figure (loss or accuracy) in one chart (uPlot, self-hosted, like chart.js):
// a colour per training, validation solid and training dashed. The data comes from comparison.overlayData.
import uPlot from "uplot";
import { overlayData } from "./comparison.js";
import { formatFixed, formatPercent } from "../i18n/index.js";

/** @typedef {import("./comparison.js").EpochFigures} EpochFigures */
/**
 * The chart's words (already translated): the axis, and the four series' names.
 * @typedef {{epoch: string, axis: string, aTrain: string, aVal: string, bTrain: string, bVal: string}} CompareNames
 */

export const COLOR_A = "#1f77b4";
export const COLOR_B = "#e4650b";

export class CompareChart {
  /**
   * @param {HTMLElement} parent
   * @param {CompareNames} names
   * @param {"loss" | "accuracy"} figure
   * @param {EpochFigures[]} a
   * @param {EpochFigures[]} b
   */
  constructor(parent, names, figure, a, b) {
    this.parent = parent;
    const percent = figure === "accuracy";
    /** @param {uPlot} _u @param {number | null} v */
    const value = (_u, v) => (v == null ? "–" : percent ? formatPercent(v) : formatFixed(v, 3));
    const data = overlayData(a, b, figure);
    const last = Math.max(2, ...data[0]);
    this.plot = new uPlot({
      width: this.width(), height: 260,
      // Names only (two trainings of different lengths would leave one of them "--" at any epoch), each swatch a
      // short line, dashed like its curve (styles.css), as in the training chart.
      legend: { live: false, markers: { width: 3, dash: (u, i) => (u.series[i].dash ? "dashed" : "solid") } },
      scales: { x: { time: false, range: [1, last] }, ...(percent ? { y: { range: [0, 1] } } : {}) },
      axes: [
        { label: names.epoch, incrs: [1, 2, 5, 10, 20, 50, 100] },
        { label: names.axis, ...(percent ? { values: (/** @type {uPlot} */ _u, /** @type {number[]} */ v) => v.map((x) => `${Math.round(x * 100)}%`) } : {}) },
      ],
      series: [
        { label: names.epoch },
        { label: names.aTrain, stroke: COLOR_A, width: 1.5, dash: [6, 4], value, spanGaps: true },
        { label: names.aVal, stroke: COLOR_A, width: 2.5, value, points: { show: true }, spanGaps: true },
        { label: names.bTrain, stroke: COLOR_B, width: 1.5, dash: [6, 4], value, spanGaps: true },
        { label: names.bVal, stroke: COLOR_B, width: 2.5, value, points: { show: true }, spanGaps: true },
      ],
    }, /** @type {uPlot.AlignedData} */ (/** @type {unknown} */ (data)), parent);
    this.onResize = () => this.plot.setSize({ width: this.width(), height: 260 });
    window.addEventListener("resize", this.onResize);
  }

  width() { return Math.max(280, this.parent.clientWidth - 8); }

  destroy() {
    window.removeEventListener("resize", this.onResize);
    this.plot.destroy();
  }
}
