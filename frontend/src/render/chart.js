// @ts-check
// Live training chart (uPlot, self-hosted): loss on the left axis, accuracy (0..1) on the right,
// training solid and validation dashed. The data shaping is pure and unit-tested.
import uPlot from "uplot";
import { chartData, bestMarker } from "./series.js";
import { formatFixed, formatPercent } from "../i18n/index.js";

/** @typedef {import("./series.js").EpochFigures} EpochFigures */
/**
 * The chart's words (already translated).
 * @typedef {{epoch: string, loss: string, valLoss: string, accuracy: string, valAccuracy: string, lossAxis: string,
 *            accAxis: string, best?: string}} ChartNames
 */

/** @param {uPlot} _u @param {number | null} v */
const percentValue = (_u, v) => (v == null ? "–" : formatPercent(v));
/** @param {uPlot} _u @param {number | null} v */
const lossValue = (_u, v) => (v == null ? "–" : formatFixed(v, 3));
/** @param {uPlot} u  which epoch is the best, wherever the cursor is (its column is empty elsewhere) */
const bestValue = (u) => {
  const best = u.data[5].findIndex((v) => v != null);
  return best < 0 ? "–" : String(u.data[0][best]);
};
/** @param {uPlot} u  the legend shows the last epoch's figures while no epoch is pointed at (uPlot: "--") */
const showLastEpoch = (u) => {
  if (u.cursor.idx == null && u.data[0].length) u.setLegend({ idx: u.data[0].length - 1 });
};

export class TrainingChart {
  /**
   * @param {HTMLElement} parent
   * @param {ChartNames} names
   * @param {number} totalEpochs  the x axis runs from 1 to this
   */
  constructor(parent, names, totalEpochs) {
    this.parent = parent;
    /** @type {EpochFigures[]} */
    this.epochs = [];
    const blue = "#1f77b4", orange = "#e4650b", green = "#2a9d3f";
    this.plot = new uPlot({
      width: this.width(), height: 300,
      // Each swatch is a short line, dashed like its curve (styles.css), so validation reads apart from training.
      legend: { markers: { width: 3, dash: (u, i) => (u.series[i].dash ? "dashed" : "solid") } },
      hooks: { setCursor: [showLastEpoch], setData: [showLastEpoch] },
      scales: { x: { time: false, range: [1, Math.max(2, totalEpochs)] }, acc: { range: [0, 1] } },
      axes: [
        { label: names.epoch, incrs: [1, 2, 5, 10, 20, 50, 100] },
        { label: names.lossAxis, scale: "y" },
        { label: names.accAxis, scale: "acc", side: 1, grid: { show: false }, values: (_u, v) => v.map((x) => `${Math.round(x * 100)}%`) },
      ],
      series: [
        { label: names.epoch },
        { label: names.loss, stroke: orange, width: 2, scale: "y", points: { show: true }, value: lossValue },
        { label: names.valLoss, stroke: orange, width: 2, dash: [6, 4], scale: "y", points: { show: true }, value: lossValue },
        { label: names.accuracy, stroke: blue, width: 2, scale: "acc", points: { show: true }, value: percentValue },
        { label: names.valAccuracy, stroke: blue, width: 2, dash: [6, 4], scale: "acc", points: { show: true }, value: percentValue },
        // The best validation epoch: one large ring on the validation-loss curve, no line.
        { label: names.best ?? "", stroke: green, width: 3, scale: "y", paths: () => null, value: bestValue,
          points: { show: true, size: 16, width: 3, stroke: green, fill: "transparent" } },
      ],
    }, this.data(), parent);
    this.onResize = () => this.plot.setSize({ width: this.width(), height: 300 });
    window.addEventListener("resize", this.onResize);
  }

  width() { return Math.max(280, this.parent.clientWidth - 8); }

  /** @param {EpochFigures} message  a training stream "epoch" message */
  addEpoch(message) {
    this.epochs = this.epochs.filter((e) => e.epoch !== message.epoch).concat([message]);
    this.plot.setData(this.data());
  }

  /** @returns {uPlot.AlignedData} */
  data() { return /** @type {uPlot.AlignedData} */ ([...chartData(this.epochs), bestMarker(this.epochs)]); }

  destroy() {
    window.removeEventListener("resize", this.onResize);
    this.plot.destroy();
  }
}
