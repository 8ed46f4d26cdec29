// @ts-check
// Pure data shaping for the training chart (no uPlot import, so node --test can load it).

/** @typedef {{epoch: number, loss: number, val_loss: number, accuracy: number, val_accuracy: number}} EpochFigures */

/**
 * Epoch messages -> uPlot's columnar data [epochs, loss, val_loss, acc, val_acc]. Pure.
 * @param {EpochFigures[]} epochs
 * @returns {[number[], number[], number[], number[], number[]]}
 */
export function chartData(epochs) {
  const sorted = [...epochs].sort((a, b) => a.epoch - b.epoch);
  return [
    sorted.map((e) => e.epoch),
    sorted.map((e) => e.loss),
    sorted.map((e) => e.val_loss),
    sorted.map((e) => e.accuracy),
    sorted.map((e) => e.val_accuracy),
  ];
}

/**
 * The epoch with the lowest validation loss (the first of equals), or null before any finished epoch. Pure.
 * @param {EpochFigures[]} epochs
 * @returns {EpochFigures | null}
 */
export function bestEpoch(epochs) {
  /** @type {EpochFigures | null} */
  let best = null;
  for (const e of [...epochs].sort((a, b) => a.epoch - b.epoch)) {
    if (Number.isFinite(e.val_loss) && (best === null || e.val_loss < best.val_loss)) best = e;
  }
  return best;
}

/** Epochs after the best one, each worse on the validation samples, before the screen says the network memorises. */
export const MEMORISING_EPOCHS = 3;

/**
 * Whether the network has started to memorise: the validation loss has stayed above its best for the last
 * MEMORISING_EPOCHS epochs and was higher at the end of them than at their start. Returns the best epoch then,
 * else null. Pure.
 * @param {EpochFigures[]} epochs
 * @returns {EpochFigures | null}
 */
export function memorisingSince(epochs) {
  const best = bestEpoch(epochs);
  if (!best) return null;
  const after = [...epochs].sort((a, b) => a.epoch - b.epoch).filter((e) => e.epoch > best.epoch);
  if (after.length < MEMORISING_EPOCHS) return null;
  const recent = after.slice(-MEMORISING_EPOCHS);
  return recent[recent.length - 1].val_loss > recent[0].val_loss || after.length >= 2 * MEMORISING_EPOCHS ? best : null;
}

/**
 * uPlot's column for the best-epoch marker: the best epoch's validation loss at its place, null elsewhere. Pure.
 * @param {EpochFigures[]} epochs
 * @returns {(number | null)[]}
 */
export function bestMarker(epochs) {
  const best = bestEpoch(epochs);
  return [...epochs].sort((a, b) => a.epoch - b.epoch).map((e) => (best && e.epoch === best.epoch ? e.val_loss : null));
}
