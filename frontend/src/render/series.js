// Pure data shaping for the training chart (no uPlot import, so node --test can load it).

/** Epoch messages -> uPlot's columnar data [epochs, loss, val_loss, acc, val_acc]. Pure. */
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
