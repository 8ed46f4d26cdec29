// @ts-check
// The drawing pad: pointer events (mouse, pen, finger) -> dark ink on a white canvas.
// Left button / pen / finger draws; right button, the pen's eraser end or the eraser tool erases.
// It knows nothing of the model: it only reports "the drawing changed".

/** @typedef {"pen" | "eraser"} Tool */
/** @typedef {[number, number]} Point  x, y in canvas pixels */

/** The browser reports moves on arrival (pointerrawupdate); the pad then draws on those instead of pointermove. */
export const RAW_MOVES = typeof window !== "undefined" && "onpointerrawupdate" in window;

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
    /** @type {{x0: number, y0: number, x1: number, y1: number} | null} where ink may be (outside it: paper) */
    this.inked = null;
    /** @type {DOMRect | null} */
    this.rect = null;
    this.forgetRect = () => { this.rect = null; };
    window.addEventListener("scroll", this.forgetRect, { capture: true, passive: true });
    window.addEventListener("resize", this.forgetRect);
    this.clear(false);
    /** @type {Record<string, (e: PointerEvent) => void>} */
    this.handlers = {
      pointerdown: (e) => this.down(e),
      // A move as soon as it arrives (pointerrawupdate, where the browser has it: secure pages in Chromium) rather
      // than held back to the start of the next frame (pointermove): the change is ready before that frame.
      [RAW_MOVES ? "pointerrawupdate" : "pointermove"]: (e) => this.move(e),
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
    this.inked = null;
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
    this.inked = { x0: 0, y0: 0, x1: this.canvas.width, y1: this.canvas.height };
    this.onChange();
  }

  imageData() { return this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height); }

  /**
   * The pixels of the part of the pad that may hold ink (everything outside it is white paper), for a reader that
   * only needs the ink (the preprocessing crops to the ink anyway): the playground reads it every frame, and a
   * digit covers a fraction of the pad. Nothing drawn: one white pixel.
   */
  inkedImageData() {
    const r = this.inked;
    if (!r) return this.ctx.getImageData(0, 0, 1, 1);
    return this.ctx.getImageData(r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0);
  }

  /**
   * @param {PointerEvent} e
   * @returns {Point} canvas pixels
   */
  point(e) {
    // The pad's place on the screen, kept for a stroke: asking for it after the page changed would lay the page out
    // once per move (many a frame with pointerrawupdate); a scroll or resize forgets it.
    const r = this.rect || (this.rect = this.canvas.getBoundingClientRect());
    return [((e.clientX - r.left) / r.width) * this.canvas.width, ((e.clientY - r.top) / r.height) * this.canvas.height];
  }

  /** @param {PointerEvent} e */
  down(e) {
    if (e.button !== 0 && e.button !== 2 && e.button !== 5) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    // button 2 = right mouse button, 5 = the pen's eraser end.
    this.erasing = this.tool === "eraser" || e.button === 2 || e.button === 5;
    this.rect = null;
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
    this.rect = null;
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
    if (this.erasing) return; // white on white: no new ink
    // The stroke's round caps reach half a line width past its ends; antialiasing one pixel more.
    const reach = ctx.lineWidth / 2 + 2;
    const w = this.canvas.width, h = this.canvas.height;
    const x0 = Math.max(0, Math.floor(Math.min(a[0], b[0]) - reach)), x1 = Math.min(w, Math.ceil(Math.max(a[0], b[0] + 0.01) + reach));
    const y0 = Math.max(0, Math.floor(Math.min(a[1], b[1]) - reach)), y1 = Math.min(h, Math.ceil(Math.max(a[1], b[1]) + reach));
    if (x1 <= x0 || y1 <= y0) return;
    const r = this.inked;
    this.inked = r ? { x0: Math.min(r.x0, x0), y0: Math.min(r.y0, y0), x1: Math.max(r.x1, x1), y1: Math.max(r.y1, y1) } : { x0, y0, x1, y1 };
  }

  destroy() {
    window.removeEventListener("scroll", this.forgetRect, { capture: true });
    window.removeEventListener("resize", this.forgetRect);
    for (const [name, fn] of Object.entries(this.handlers)) this.canvas.removeEventListener(name, /** @type {EventListener} */ (fn));
  }
}
