// The camera: pan and zoom with mouse, wheel, pinch and keys (setCam, zoomAt, fit, centerOn), and the
// dive into a group before its view replaces the current one (zoomInto).
function zoomInto(el) {
  // semantic zoom: the camera dives into the clicked group before its inside replaces the view
  const r = el.getBoundingClientRect(), c = canvas.getBoundingClientRect();
  const k = Math.min(c.width / r.width, c.height / r.height) * 0.8;
  const cam = S.cam, nk = Math.min(cam.k * k, cam.k * 8);
  const cx = r.left + r.width / 2 - c.left, cy = r.top + r.height / 2 - c.top;
  const f = nk / cam.k;
  stage.classList.add("zooming");
  setCam({ k: nk, x: c.width / 2 - (cx - cam.x) * f, y: c.height / 2 - (cy - cam.y) * f });
  return new Promise((res) => setTimeout(res, 120));
}

function setCam(c) {
  S.cam = c;
  stage.style.transform = `translate(${c.x}px, ${c.y}px) scale(${c.k})`;
}
function fit() {
  const svg = stage.querySelector("svg");
  if (!svg) return;
  const w = svg.width.baseVal.value, h = svg.height.baseVal.value, c = canvas.getBoundingClientRect();
  const k = Math.min(c.width / w, c.height / h, 1.5) * 0.97;
  // a tall column (a layer's 64 units) shrunk to fit would be unreadable: fit its width, start at the top
  const kw = Math.min(c.width / w, 1) * 0.97;
  if (k < 0.35 && kw > k) return setCam({ k: kw, x: (c.width - w * kw) / 2, y: 4 });
  setCam({ k, x: (c.width - w * k) / 2, y: Math.max(4, (c.height - h * k) / 2) });
}
function zoomAt(f, px, py) {
  const c = S.cam, k = Math.max(0.02, Math.min(40, c.k * f));
  setCam({ k, x: px - ((px - c.x) * k) / c.k, y: py - ((py - c.y) * k) / c.k });
}
function centerOn(name) {
  const g = S.items.get(typeof name === "number" ? "n" + name : name);
  if (!g) return;
  if (S.cam.k < 1) zoomAt(1 / S.cam.k, 0, 0); // close enough to read its numbers
  const r = g.getBoundingClientRect(), c = canvas.getBoundingClientRect();
  setCam({ ...S.cam, x: S.cam.x + c.width / 2 - (r.left + r.width / 2 - c.left), y: S.cam.y + c.height / 2 - (r.top + r.height / 2 - c.top) });
}
canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  const c = canvas.getBoundingClientRect();
  zoomAt(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)), e.clientX - c.left, e.clientY - c.top);
}, { passive: false });
const pointers = new Map();
let moved = 0;
canvas.addEventListener("pointerdown", (e) => {
  if (e.target.closest("#list")) return;
  pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  moved = 0;
  canvas.setPointerCapture(e.pointerId);
  canvas.classList.add("dragging");
});
canvas.addEventListener("pointermove", (e) => {
  const p = pointers.get(e.pointerId);
  if (!p) return;
  if (pointers.size === 1) {
    setCam({ ...S.cam, x: S.cam.x + e.clientX - p.x, y: S.cam.y + e.clientY - p.y });
    moved += Math.abs(e.clientX - p.x) + Math.abs(e.clientY - p.y);
  } else if (pointers.size === 2) { // pinch: scale by the change of the distance between two fingers
    const [a, b] = [...pointers.entries()].map(([id, q]) => (id === e.pointerId ? { x: e.clientX, y: e.clientY } : q));
    const [a0, b0] = [...pointers.values()];
    const d0 = Math.hypot(a0.x - b0.x, a0.y - b0.y), d1 = Math.hypot(a.x - b.x, a.y - b.y);
    const c = canvas.getBoundingClientRect();
    if (d0 > 0) zoomAt(d1 / d0, (a.x + b.x) / 2 - c.left, (a.y + b.y) / 2 - c.top);
    moved += 10;
  }
  pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
});
const release = (e) => {
  pointers.delete(e.pointerId);
  if (!pointers.size) canvas.classList.remove("dragging");
};
canvas.addEventListener("pointerup", release);
canvas.addEventListener("pointercancel", release);
