// A box editor on a <canvas>: draw, select, move, resize and delete boxes with pointer events
// (mouse, pen and touch alike), zoom for small images. Boxes live in image pixels; the canvas
// shows the image at `scale` CSS pixels per image pixel.

const HANDLE_PX = { mouse: 8, pen: 10, touch: 16 }; // grab radius of a corner, in screen pixels
const MIN_SCALE = 0.25;
const MAX_SCALE = 16;

function normal(a, b) {
  return { x0: Math.min(a.x, b.x), y0: Math.min(a.y, b.y), x1: Math.max(a.x, b.x), y1: Math.max(a.y, b.y) };
}

export class BoxEditor {
  constructor(canvas, stage, { onChange = () => {}, onHint = () => {}, onSelect = () => {} } = {}) {
    this.canvas = canvas;
    this.stage = stage;
    this.ctx = canvas.getContext('2d');
    this.onChange = onChange;
    this.onHint = onHint;
    this.onSelect = onSelect;
    this.image = null;
    this.width = 0;
    this.height = 0;
    this.boxes = [];
    this.selected = -1;
    this.scale = 1;
    this.minBox = 4;
    this.maxBoxes = 10;
    this.readOnly = false;
    this.drag = null;
    canvas.style.touchAction = 'none'; // the page must not scroll or zoom while a finger draws
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', () => this.cancel());
    canvas.addEventListener('lostpointercapture', () => { if (this.drag) this.up(null); });
  }

  load(image, { width, height, boxes = [], minBox = 4, maxBoxes = 10, readOnly = false }) {
    this.image = image;
    this.width = width;
    this.height = height;
    this.boxes = boxes.map((b) => ({ ...b }));
    this.minBox = minBox;
    this.maxBoxes = maxBoxes;
    this.readOnly = readOnly;
    this.drag = null;
    this.select(-1);
    this.fit();
  }

  // -- zoom -----------------------------------------------------------------------------------
  fit() {
    if (!this.width) return;
    const availableWidth = Math.max(120, this.stage.clientWidth - 4);
    const availableHeight = Math.max(160, Math.min(window.innerHeight * 0.52, 720));
    // small images are enlarged to fill the stage, so a 64-pixel frame is comfortable to box
    this.setScale(Math.min(availableWidth / this.width, availableHeight / this.height));
  }

  zoom(factor) { this.setScale(this.scale * factor); }

  setScale(scale) {
    this.scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, scale));
    const dpr = window.devicePixelRatio || 1;
    this.canvas.style.width = `${this.width * this.scale}px`;
    this.canvas.style.height = `${this.height * this.scale}px`;
    this.canvas.width = Math.max(1, Math.round(this.width * this.scale * dpr));
    this.canvas.height = Math.max(1, Math.round(this.height * this.scale * dpr));
    this.render();
  }

  // -- geometry -------------------------------------------------------------------------------
  toImage(event) {
    const rect = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * this.width;
    const y = ((event.clientY - rect.top) / rect.height) * this.height;
    return { x: Math.max(0, Math.min(this.width, x)), y: Math.max(0, Math.min(this.height, y)) };
  }

  handleAt(p, pointerType) {
    if (this.selected < 0) return null;
    const b = this.boxes[this.selected];
    const r = (HANDLE_PX[pointerType] || HANDLE_PX.mouse) / this.scale;
    for (const [name, x, y] of [['nw', b.x0, b.y0], ['ne', b.x1, b.y0], ['sw', b.x0, b.y1], ['se', b.x1, b.y1]]) {
      if (Math.abs(p.x - x) <= r && Math.abs(p.y - y) <= r) return name;
    }
    return null;
  }

  boxAt(p) {
    for (let i = this.boxes.length - 1; i >= 0; i -= 1) { // the topmost (last drawn) first
      const b = this.boxes[i];
      if (p.x >= b.x0 && p.x <= b.x1 && p.y >= b.y0 && p.y <= b.y1) return i;
    }
    return -1;
  }

  clampMove(box, dx, dy) {
    const w = box.x1 - box.x0;
    const h = box.y1 - box.y0;
    const x0 = Math.max(0, Math.min(this.width - w, box.x0 + dx));
    const y0 = Math.max(0, Math.min(this.height - h, box.y0 + dy));
    return { x0, y0, x1: x0 + w, y1: y0 + h };
  }

  tooSmall(b) { return b.x1 - b.x0 < this.minBox || b.y1 - b.y0 < this.minBox; }

  // -- pointer --------------------------------------------------------------------------------
  down(e) {
    if (this.readOnly || !this.image || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    this.canvas.focus({ preventScroll: true });
    const p = this.toImage(e);
    const handle = this.handleAt(p, e.pointerType);
    if (handle) {
      this.drag = { mode: 'resize', handle, start: p, orig: { ...this.boxes[this.selected] } };
    } else {
      const hit = this.boxAt(p);
      if (hit >= 0) {
        this.select(hit);
        this.drag = { mode: 'move', start: p, orig: { ...this.boxes[hit] } };
      } else {
        this.select(-1);
        this.drag = { mode: 'draw', start: p, box: normal(p, p) };
      }
    }
    this.canvas.setPointerCapture(e.pointerId);
    this.render();
  }

  move(e) {
    const p = this.toImage(e);
    if (!this.drag) {
      const handle = this.readOnly ? null : this.handleAt(p, e.pointerType);
      this.canvas.style.cursor = handle ? (handle === 'nw' || handle === 'se' ? 'nwse-resize' : 'nesw-resize')
        : (!this.readOnly && this.boxAt(p) >= 0 ? 'move' : 'crosshair');
      return;
    }
    e.preventDefault();
    const d = this.drag;
    if (d.mode === 'draw') {
      d.box = normal(d.start, p);
    } else if (d.mode === 'move') {
      this.boxes[this.selected] = this.clampMove(d.orig, p.x - d.start.x, p.y - d.start.y);
    } else {
      const o = d.orig;
      const fixed = { x: d.handle.includes('w') ? o.x1 : o.x0, y: d.handle.includes('n') ? o.y1 : o.y0 };
      this.boxes[this.selected] = normal(fixed, p);
    }
    this.render();
  }

  up() {
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    if (d.mode === 'draw') {
      const b = d.box;
      const size = Math.max(b.x1 - b.x0, b.y1 - b.y0);
      if (size < 1) { this.render(); return; } // a click on the image: just deselect
      if (this.tooSmall(b)) {
        this.onHint(`Boxes must be at least ${this.minBox} pixels wide and high; zoom in to box small regions.`);
      } else if (this.boxes.length >= this.maxBoxes) {
        this.onHint(`At most ${this.maxBoxes} boxes per image.`);
      } else {
        this.boxes.push(b);
        this.select(this.boxes.length - 1);
        this.onHint('');
        this.onChange();
      }
    } else if (d.mode === 'resize' && this.tooSmall(this.boxes[this.selected])) {
      this.boxes[this.selected] = d.orig;
      this.onHint(`Boxes must be at least ${this.minBox} pixels wide and high.`);
    } else {
      this.onChange();
    }
    this.render();
  }

  cancel() {
    const d = this.drag;
    this.drag = null;
    if (d && d.mode !== 'draw') this.boxes[this.selected] = d.orig;
    this.render();
  }

  // -- commands (buttons and keys) ------------------------------------------------------------
  select(index) {
    this.selected = index;
    this.onSelect(index);
    this.render();
  }

  selectNext() {
    if (!this.boxes.length) return;
    this.select((this.selected + 1) % this.boxes.length);
  }

  deleteSelected() {
    if (this.readOnly || this.selected < 0) return false;
    this.boxes.splice(this.selected, 1);
    this.select(-1);
    this.onChange();
    return true;
  }

  deleteAt(index) {
    if (this.readOnly) return;
    this.boxes.splice(index, 1);
    this.select(-1);
    this.onChange();
  }

  clear() {
    this.boxes = [];
    this.select(-1);
  }

  nudge(dx, dy) {
    if (this.readOnly || this.selected < 0) return false;
    this.boxes[this.selected] = this.clampMove(this.boxes[this.selected], dx, dy);
    this.onChange();
    this.render();
    return true;
  }

  // -- drawing --------------------------------------------------------------------------------
  render() {
    const { ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.image) return;
    const k = this.scale * dpr;
    ctx.setTransform(k, 0, 0, k, 0, 0);
    ctx.imageSmoothingEnabled = this.scale < 1; // enlarged small images stay crisp
    ctx.drawImage(this.image, 0, 0, this.width, this.height);
    const line = 2 / this.scale;
    const shown = this.drag && this.drag.mode === 'draw' ? [...this.boxes, this.drag.box] : this.boxes;
    shown.forEach((b, i) => {
      const active = i === this.selected || i === this.boxes.length;
      ctx.fillStyle = active ? 'rgba(36, 99, 235, 0.18)' : 'rgba(250, 204, 21, 0.12)';
      ctx.fillRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
      ctx.lineWidth = line;
      ctx.strokeStyle = '#000';
      ctx.strokeRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
      ctx.lineWidth = line / 2;
      ctx.strokeStyle = active ? '#60a5fa' : '#facc15';
      ctx.strokeRect(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0);
      if (i < this.boxes.length) {
        ctx.fillStyle = '#fff';
        ctx.font = `${12 / this.scale}px system-ui, sans-serif`;
        ctx.fillText(String(i + 1), b.x0 + 3 / this.scale, b.y0 + 13 / this.scale);
      }
    });
    if (this.selected >= 0 && !this.readOnly) {
      const b = this.boxes[this.selected];
      const r = 4 / this.scale;
      ctx.fillStyle = '#fff';
      ctx.strokeStyle = '#2463eb';
      ctx.lineWidth = line / 2;
      for (const [x, y] of [[b.x0, b.y0], [b.x1, b.y0], [b.x0, b.y1], [b.x1, b.y1]]) {
        ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
        ctx.strokeRect(x - r, y - r, 2 * r, 2 * r);
      }
    }
  }
}
