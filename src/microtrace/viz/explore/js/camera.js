// The camera: where the drawing sits in the canvas (translate, then scale). Fit the view, zoom about a
// point, pan, centre an item, and the dive into a group before its view replaces the current one.
import { canvas, stage } from "./dom.js";
import { S, on, setCam } from "./state.js";

on("cam", () => (stage.style.transform = `translate(${S.cam.x}px, ${S.cam.y}px) scale(${S.cam.k})`));

// semantic zoom: the camera dives into the chosen group before its inside replaces the view
export function zoomInto(el) {
  const r = el.getBoundingClientRect(), c = canvas.getBoundingClientRect();
  const k = Math.min(c.width / r.width, c.height / r.height) * 0.8;
  const cam = S.cam, nk = Math.min(cam.k * k, cam.k * 8);
  const cx = r.left + r.width / 2 - c.left, cy = r.top + r.height / 2 - c.top;
  const f = nk / cam.k;
  stage.classList.add("zooming");
  setCam({ k: nk, x: c.width / 2 - (cx - cam.x) * f, y: c.height / 2 - (cy - cam.y) * f });
  return new Promise((res) => setTimeout(res, 120));
}
export function fit() {
  const svg = stage.querySelector("svg");
  if (!svg) return;
  const w = svg.width.baseVal.value, h = svg.height.baseVal.value, c = canvas.getBoundingClientRect();
  const k = Math.min(c.width / w, c.height / h, 1.5) * 0.97;
  // a tall column (a layer's 64 units) shrunk to fit would be unreadable: fit its width, start at the top
  const kw = Math.min(c.width / w, 1) * 0.97;
  if (k < 0.35 && kw > k) return setCam({ k: kw, x: (c.width - w * kw) / 2, y: 4 });
  setCam({ k, x: (c.width - w * k) / 2, y: Math.max(4, (c.height - h * k) / 2) });
}
// zoom by f about the canvas point (px, py), which stays where it is
export function zoomAt(f, px, py) {
  const c = S.cam, k = Math.max(0.02, Math.min(40, c.k * f));
  setCam({ k, x: px - ((px - c.x) * k) / c.k, y: py - ((py - c.y) * k) / c.k });
}
export function pan(dx, dy) {
  setCam({ ...S.cam, x: S.cam.x + dx, y: S.cam.y + dy });
}
// the item (a node id or an item's name) in the middle of the canvas, close enough to read its numbers
export function centerOn(name) {
  const g = S.items.get(typeof name === "number" ? "n" + name : name);
  if (!g) return;
  if (S.cam.k < 1) zoomAt(1 / S.cam.k, 0, 0);
  const r = g.getBoundingClientRect(), c = canvas.getBoundingClientRect();
  pan(c.width / 2 - (r.left + r.width / 2 - c.left), c.height / 2 - (r.top + r.height / 2 - c.top));
}
// the item in view, moved as little as needed (for the keyboard: the focused box never leaves the canvas)
export function keepInView(g) {
  const r = g.getBoundingClientRect(), c = canvas.getBoundingClientRect(), m = 24;
  const dx = r.left < c.left + m ? c.left + m - r.left : r.right > c.right - m ? Math.max(c.right - m - r.right, c.left + m - r.left) : 0;
  const dy = r.top < c.top + m ? c.top + m - r.top : r.bottom > c.bottom - m ? Math.max(c.bottom - m - r.bottom, c.top + m - r.top) : 0;
  if (dx || dy) pan(dx, dy);
}
