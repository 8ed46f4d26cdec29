// @ts-check
// The drawing pad: pointer events (mouse, pen, finger) -> dark ink on a white canvas.
// Left button / pen / finger draws; right button, the pen's eraser end or the eraser tool erases.
// It knows nothing of the model: it only reports "the drawing changed".

/** @typedef {"pen" | "eraser"} Tool */
/** @typedef {[number, number]} Point  x, y in canvas pixels */

export class DrawPad {
  /**
   * @param {HTMLCanvasElement} canvas  drawn at its own pixel size (e.g. 280x280), scaled by CSS
   * @param {{onChange?: (event?: Event) => void, lineWidth?: number}} options  onChange gets the pointer event
   *   that changed the drawing (its timeStamp starts the playground's latency measurement)
   */
  constructor(canvas, { onChange = () => {}, lineWidth = 0.075 } = {}) {
    this.canvas = canvas;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) throw new Error("This browser cannot draw on a canvas.");
    this.ctx = ctx;
    this.onChange = onChange;
    this.lineWidth = lineWidth; // as a fraction of the canvas side, so any resolution draws alike
    /** @type {Tool} */
    this.tool = "pen";
    /** @type {Point | null} */
    this.last = null;
    this.erasing = false;
    this.clear(false);
    /** @type {Record<string, (e: PointerEvent) => void>} */
    this.handlers = {
      pointerdown: (e) => this.down(e),
      pointermove: (e) => this.move(e),
      pointerup: () => this.up(),
      pointercancel: () => this.up(),
      contextmenu: (e) => e.preventDefault(), // the right button erases instead of opening a menu
    };
    for (const [name, fn] of Object.entries(this.handlers)) canvas.addEventListener(name, /** @type {EventListener} */ (fn));
    canvas.style.touchAction = "none"; // a finger draws instead of scrolling the page
  }

  /** @param {Tool} tool */
  setTool(tool) { this.tool = tool; }

  clear(notify = true) {
    this.ctx.fillStyle = "#fff";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (notify) this.onChange();
  }

  /**
   * Show a picture (e.g. a 28x28 test sample, dark ink on white) on the whole pad, to look at or draw on.
   * @param {CanvasImageSource} image
   */
  showImage(image) {
    this.ctx.fillStyle = "#fff";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.drawImage(image, 0, 0, this.canvas.width, this.canvas.height);
    this.onChange();
  }

  imageData() { return this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height); }

  /**
   * @param {PointerEvent} e
   * @returns {Point} canvas pixels
   */
  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * this.canvas.width, ((e.clientY - r.top) / r.height) * this.canvas.height];
  }

  /** @param {PointerEvent} e */
  down(e) {
    if (e.button !== 0 && e.button !== 2 && e.button !== 5) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    // button 2 = right mouse button, 5 = the pen's eraser end.
    this.erasing = this.tool === "eraser" || e.button === 2 || e.button === 5;
    this.last = this.point(e);
    this.segment(this.last, this.last);
    this.onChange(e);
  }

  /** @param {PointerEvent} e */
  move(e) {
    if (!this.last) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) {
      const p = this.point(ev);
      this.segment(this.last, p);
      this.last = p;
    }
    this.onChange(e);
  }

  up() {
    if (!this.last) return;
    this.last = null;
    this.onChange();
  }

  /** @param {Point} a @param {Point} b */
  segment(a, b) {
    const ctx = this.ctx;
    const side = Math.min(this.canvas.width, this.canvas.height);
    ctx.strokeStyle = this.erasing ? "#fff" : "#000";
    ctx.lineWidth = side * this.lineWidth * (this.erasing ? 2.5 : 1);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0] + 0.01, b[1]); // a dot still draws a round cap
    ctx.stroke();
  }

  destroy() {
    for (const [name, fn] of Object.entries(this.handlers)) this.canvas.removeEventListener(name, /** @type {EventListener} */ (fn));
  }
}
