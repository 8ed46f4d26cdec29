// Live training chart (uPlot, self-hosted): loss on the left axis, accuracy (0..1) on the right,
// training solid and validation dashed. The data shaping is pure and unit-tested.
import uPlot from "uplot";
import { chartData } from "./series.js";

export class TrainingChart {
  /** @param {HTMLElement} parent  @param {{loss, valLoss, accuracy, valAccuracy, epoch}} names  labels */
  constructor(parent, names, totalEpochs) {
    this.parent = parent;
    this.epochs = [];
    const blue = "#1f77b4", orange = "#e4650b";
    this.plot = new uPlot({
      width: this.width(), height: 300,
      scales: { x: { time: false, range: [1, Math.max(2, totalEpochs)] }, acc: { range: [0, 1] } },
      axes: [
        { label: names.epoch, incrs: [1, 2, 5, 10, 20, 50, 100] },
        { label: names.lossAxis, scale: "y" },
        { label: names.accAxis, scale: "acc", side: 1, grid: { show: false }, values: (u, v) => v.map((x) => `${Math.round(x * 100)}%`) },
      ],
      series: [
        { label: names.epoch },
        { label: names.loss, stroke: orange, width: 2, scale: "y", points: { show: true } },
        { label: names.valLoss, stroke: orange, width: 2, dash: [6, 4], scale: "y", points: { show: true } },
        { label: names.accuracy, stroke: blue, width: 2, scale: "acc", points: { show: true }, value: (u, v) => (v == null ? "–" : `${(v * 100).toFixed(1)}%`) },
        { label: names.valAccuracy, stroke: blue, width: 2, dash: [6, 4], scale: "acc", points: { show: true }, value: (u, v) => (v == null ? "–" : `${(v * 100).toFixed(1)}%`) },
      ],
    }, chartData([]), parent);
    this.onResize = () => this.plot.setSize({ width: this.width(), height: 300 });
    window.addEventListener("resize", this.onResize);
  }

  width() { return Math.max(280, this.parent.clientWidth - 8); }

  addEpoch(message) {
    this.epochs = this.epochs.filter((e) => e.epoch !== message.epoch).concat([message]);
    this.plot.setData(chartData(this.epochs));
  }

  destroy() {
    window.removeEventListener("resize", this.onResize);
    this.plot.destroy();
  }
}
