// The drawing pad: pointer events (mouse, pen, finger) -> dark ink on a white canvas.
// Left button / pen / finger draws; right button, the pen's eraser end or the eraser tool erases.
// It knows nothing of the model: it only reports "the drawing changed".

export class DrawPad {
  /**
   * @param {HTMLCanvasElement} canvas  drawn at its own pixel size (e.g. 280x280), scaled by CSS
   * @param {{onChange?: () => void, lineWidth?: number}} options
   */
  constructor(canvas, { onChange = () => {}, lineWidth = 0.075 } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.onChange = onChange;
    this.lineWidth = lineWidth; // as a fraction of the canvas side, so any resolution draws alike
    this.tool = "pen";
    this.last = null;
    this.erasing = false;
    this.clear(false);
    this.handlers = {
      pointerdown: (e) => this.down(e),
      pointermove: (e) => this.move(e),
      pointerup: (e) => this.up(e),
      pointercancel: (e) => this.up(e),
      contextmenu: (e) => e.preventDefault(), // the right button erases instead of opening a menu
    };
    for (const [name, fn] of Object.entries(this.handlers)) canvas.addEventListener(name, fn);
    canvas.style.touchAction = "none"; // a finger draws instead of scrolling the page
  }

  setTool(tool) { this.tool = tool; }

  clear(notify = true) {
    this.ctx.fillStyle = "#fff";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (notify) this.onChange();
  }

  imageData() { return this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height); }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * this.canvas.width, ((e.clientY - r.top) / r.height) * this.canvas.height];
  }

  down(e) {
    if (e.button !== 0 && e.button !== 2 && e.button !== 5) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    // button 2 = right mouse button, 5 = the pen's eraser end.
    this.erasing = this.tool === "eraser" || e.button === 2 || e.button === 5;
    this.last = this.point(e);
    this.segment(this.last, this.last);
    this.onChange();
  }

  move(e) {
    if (!this.last) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) {
      const p = this.point(ev);
      this.segment(this.last, p);
      this.last = p;
    }
    this.onChange();
  }

  up() {
    if (!this.last) return;
    this.last = null;
    this.onChange();
  }

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
    for (const [name, fn] of Object.entries(this.handlers)) this.canvas.removeEventListener(name, fn);
  }
}
