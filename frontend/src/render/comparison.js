// @ts-check
// Two trainings side by side: pure data shaping for the compare view (no DOM, no uPlot: node --test loads it).

/** @typedef {{epoch: number, loss: number, val_loss: number, accuracy: number, val_accuracy: number}} EpochFigures */
/** @typedef {{label: string, accuracy?: number | null, correct?: number, count?: number}} LabelFigures */

/**
 * Both trainings' curves of one figure on a common epoch axis (null where a training has no such epoch):
 * [epochs, A training, A validation, B training, B validation]. Pure.
 * @param {EpochFigures[]} a
 * @param {EpochFigures[]} b
 * @param {"loss" | "accuracy"} figure
 * @returns {[number[], (number | null)[], (number | null)[], (number | null)[], (number | null)[]]}
 */
export function overlayData(a, b, figure) {
  const val = figure === "loss" ? "val_loss" : "val_accuracy";
  const byEpoch = (/** @type {EpochFigures[]} */ list) => new Map(list.map((e) => [e.epoch, e]));
  const [ea, eb] = [byEpoch(a), byEpoch(b)];
  const epochs = [...new Set([...ea.keys(), ...eb.keys()])].sort((x, y) => x - y);
  /** @param {Map<number, EpochFigures>} m @param {"loss" | "accuracy" | "val_loss" | "val_accuracy"} key */
  const column = (m, key) => epochs.map((n) => m.get(n)?.[key] ?? null);
  return [epochs, column(ea, figure), column(ea, val), column(eb, figure), column(eb, val)];
}

/**
 * Accuracy per label of both trainings, by label name (labels only one of them has get null on the other side).
 * `delta` is B minus A. Pure.
 * @param {LabelFigures[]} a
 * @param {LabelFigures[]} b
 * @returns {{label: string, a: number | null, b: number | null, delta: number | null}[]}
 */
export function perLabelRows(a, b) {
  const inB = new Map(b.map((r) => [r.label, r.accuracy ?? null]));
  const inA = new Map(a.map((r) => [r.label, r.accuracy ?? null]));
  const labels = [...inA.keys(), ...[...inB.keys()].filter((l) => !inA.has(l))];
  return labels.map((label) => {
    const x = inA.get(label) ?? null, y = inB.get(label) ?? null;
    return { label, a: x, b: y, delta: x === null || y === null ? null : y - x };
  });
}

/**
 * Where the confusion matrices differ, on the labels both have. Test sets may differ in size, so each cell is
 * also given as the share of that row's (written label's) test samples; `change` is B's share minus A's. Pure.
 * @param {{labels: string[], confusion: number[][]}} a
 * @param {{labels: string[], confusion: number[][]}} b
 */
export function confusionChanges(a, b) {
  const labels = a.labels.filter((l) => b.labels.includes(l));
  const rowOf = (/** @type {{labels: string[], confusion: number[][]}} */ m, /** @type {string} */ label) => {
    const i = m.labels.indexOf(label);
    const row = labels.map((l) => m.confusion[i]?.[m.labels.indexOf(l)] ?? 0);
    const total = (m.confusion[i] || []).reduce((s, n) => s + n, 0);
    return { row, total };
  };
  const cells = labels.map((truth, i) => {
    const ra = rowOf(a, truth), rb = rowOf(b, truth);
    return labels.map((predicted, j) => {
      const shareA = ra.total ? ra.row[j] / ra.total : 0, shareB = rb.total ? rb.row[j] / rb.total : 0;
      return { truth, predicted, a: ra.row[j], b: rb.row[j], change: shareB - shareA, diagonal: i === j };
    });
  });
  // The mistakes that changed most (B compared with A), biggest first.
  const biggest = cells.flat().filter((c) => !c.diagonal && (c.a !== c.b) && Math.abs(c.change) > 1e-9)
    .sort((x, y) => Math.abs(y.change) - Math.abs(x.change));
  return { labels, cells, biggest };
}

/**
 * @param {unknown} value
 * @returns {string}
 */
function shown(value) {
  if (value === undefined || value === null) return "–";
  if (Array.isArray(value)) return value.map(shown).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} ${shown(v)}`).join(", ");
  return String(value);
}

/** The settings in the order a student set them on the training screen; others after them, by name. */
const SETTING_ORDER = ["epochs", "batch_size", "learning_rate", "lr_schedule", "early_stopping", "augmentation", "val_fraction",
  "test_fraction", "seed"];

/**
 * @typedef {{architecture: string, activation: string, settings: Record<string, unknown>,
 *   summary: {total_params: number, layers: {kind: string, output_shape: number[], activation?: string | null}[]},
 *   dataset?: Record<string, Record<string, number>> | null, epochs_run: number}} Comparable
 */

/**
 * The two trainings' settings, network and data as rows {key, a, b, same}: differences first, then the rest,
 * each in the training screen's order. Pure.
 * @param {Comparable} a
 * @param {Comparable} b
 */
export function settingsDiff(a, b) {
  /** @param {Comparable} t */
  const layers = (t) => t.summary.layers.map((l) => `${l.kind}${l.activation ? ` ${l.activation}` : ""} ${l.output_shape.join("×")}`).join(" → ");
  /** @param {Comparable} t @param {string} part */
  const samples = (t, part) => (t.dataset?.[part] ? Object.values(t.dataset[part]).reduce((s, n) => s + n, 0) : null);
  const keys = [...new Set([...Object.keys(a.settings), ...Object.keys(b.settings)])]
    .sort((x, y) => (SETTING_ORDER.indexOf(x) + 1 || 99) - (SETTING_ORDER.indexOf(y) + 1 || 99) || x.localeCompare(y));
  /** @type {[string, unknown, unknown][]} */
  const pairs = [
    ["architecture", a.architecture, b.architecture],
    ["activation", a.activation, b.activation],
    ["total_params", a.summary.total_params, b.summary.total_params],
    ["layers", layers(a), layers(b)],
    ...keys.map((k) => /** @type {[string, unknown, unknown]} */ ([k, a.settings[k], b.settings[k]])),
    ["epochs_run", a.epochs_run, b.epochs_run],
    ["train_samples", samples(a, "train"), samples(b, "train")],
    ["test_samples", samples(a, "test"), samples(b, "test")],
  ];
  const rows = pairs.map(([key, x, y]) => ({ key, a: shown(x), b: shown(y), same: shown(x) === shown(y) }));
  return [...rows.filter((r) => !r.same), ...rows.filter((r) => r.same)];
}

/**
 * The two training ids of a compare address part "12-9" (A, then B), or null. Pure.
 * @param {string | undefined} part
 * @returns {[number, number] | null}
 */
export function comparedIds(part) {
  const m = /^(\d+)-(\d+)$/.exec(part || "");
  return m ? [Number(m[1]), Number(m[2])] : null;
}
