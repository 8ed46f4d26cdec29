// @ts-check
// The playground's words: what each layer is, and what the network says (or that it is not sure), in the
// student's language. Pure (no DOM), so node --test checks it.
import { t, formatPercent, formatNumber } from "../i18n/index.js";
import { argmax } from "./layout.js";

/** @typedef {{name: string, kind: string, output_shape: number[], activation: string | null}} SummaryLayer */

// Below this probability the network is called unsure. (The probabilities add up to 1, so above it the
// runner-up is at least 0.4 behind: a separate "too close" rule would never decide anything.)
export const SURE_PROBABILITY = 0.7;

/**
 * What a layer is, in the student's words: "Convolution 1: 32 filters 3×3", "Pooling 2×2", "Dense 100 neurons".
 * The kernel and pool sizes follow from the shapes (valid padding: out = in - k + 1; pooling: in / out).
 * @param {SummaryLayer[]} layers  the training's summary, in order
 * @param {readonly number[]} inputShape  one sample, without the batch axis
 * @returns {Map<string, {title: string, kind: string}>} by layer name
 */
export function layerTitles(layers, inputShape) {
  /** @type {Map<string, {title: string, kind: string}>} */
  const titles = new Map();
  let previous = inputShape;
  let conv = 0;
  let dense = 0;
  layers.forEach((layer, i) => {
    const shape = layer.output_shape;
    const last = i === layers.length - 1;
    let title;
    let kind = layer.kind;
    if (layer.kind === "conv2d") {
      const k = previous[0] - shape[0] + 1;
      title = t("play.layer.conv", { n: ++conv, filters: shape[2], k });
    } else if (layer.kind === "max_pooling2d") {
      title = t("play.layer.pool", { k: Math.max(1, Math.round(previous[0] / shape[0])) });
    } else if (layer.kind === "flatten") {
      title = t("play.layer.flatten", { n: formatNumber(shape[0]) });
    } else if (layer.kind === "dense" && last) {
      title = t("play.layer.output", { n: shape[0] });
      kind = "output";
    } else if (layer.kind === "dense") {
      title = t("play.layer.dense", { n: ++dense, units: shape[0] });
    } else if (layer.kind === "dropout") {
      title = t("play.layer.dropout");
    } else title = layer.name;
    titles.set(layer.name, { title, kind });
    previous = shape;
  });
  return titles;
}

/**
 * The sentence under the drawing: a clear answer, or that the network is not sure (and between which two).
 * @param {ArrayLike<number>} probs
 * @param {readonly string[]} labels
 * @returns {{sure: boolean, best: number, text: string}}
 */
export function verdict(probs, labels) {
  const best = argmax(probs);
  let second = best === 0 ? 1 : 0;
  for (let i = 0; i < probs.length; i++) if (i !== best && probs[i] > probs[second]) second = i;
  const sure = probs[best] >= SURE_PROBABILITY;
  const text = sure
    ? t("play.prediction", { label: labels[best], p: formatPercent(probs[best]) })
    : t("play.unsure", { label: labels[best], p: formatPercent(probs[best]), other: labels[second], q: formatPercent(probs[second] ?? 0) });
  return { sure, best, text };
}

