// The minimap: the whole view small in the canvas's corner (its clusters and boxes in their colours), the
// part on screen outlined; a click or a drag on it moves the camera there.
import { $, canvas } from "./dom.js";
import { S, on, setCam } from "./state.js";
import { extent } from "./draw.js";

const map = $("#minimap"), lens = $("#minimap .lens"), W = 180, H = 120;
let scale = 1, ox = 0, oy = 0; // drawing points -> minimap pixels
const PX = 4 / 3; // the drawing's SVG is 4/3 px a point at scale 1 (draw.js render)

function drawMap() {
  const M = S.model;
  map.hidden = !M || S.view < 0 || !M.items.length;
  if (map.hidden) return;
  scale = Math.min(W / M.w, H / M.h);
  ox = (W - M.w * scale) / 2;
  oy = (H - M.h * scale) / 2;
  const rects = [];
  for (const it of M.items) if ((it.kind === "cluster" || it.kind === "node") && it.shapes.length && it.title !== "legend") {
    const [a, b, c, d] = extent([it.shapes[0]]), fill = (/ fill="([^"]*)"/.exec(it.shapes[0][1]) || [0, "#ccc"])[1];
    rects.push(`<rect x="${(ox + a * scale).toFixed(1)}" y="${(oy + b * scale).toFixed(1)}" width="${Math.max(1, (c - a) * scale).toFixed(1)}" height="${Math.max(1, (d - b) * scale).toFixed(1)}" fill="${fill === "none" ? "#eee" : fill}" stroke="#bbb" stroke-width="0.5"/>`);
  }
  map.querySelector("svg").innerHTML = rects.join("");
  drawLens();
}
// the canvas's rectangle in drawing points, outlined on the map
function drawLens() {
  if (map.hidden) return;
  const c = canvas.getBoundingClientRect(), k = S.cam.k * PX;
  const x0 = -S.cam.x / k, y0 = -S.cam.y / k, x1 = (c.width - S.cam.x) / k, y1 = (c.height - S.cam.y) / k;
  const clip = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  const a = clip(ox + x0 * scale, 0, W), b = clip(oy + y0 * scale, 0, H), e = clip(ox + x1 * scale, 0, W), f = clip(oy + y1 * scale, 0, H);
  Object.assign(lens.style, { left: `${a}px`, top: `${b}px`, width: `${Math.max(2, e - a)}px`, height: `${Math.max(2, f - b)}px` });
}
// the camera centred on the drawing point under the minimap's pixel (mx, my)
function lookAt(mx, my) {
  const c = canvas.getBoundingClientRect(), k = S.cam.k * PX;
  setCam({ ...S.cam, x: c.width / 2 - ((mx - ox) / scale) * k, y: c.height / 2 - ((my - oy) / scale) * k });
}
let dragging = false;
const at = (e) => { const r = map.getBoundingClientRect(); lookAt(e.clientX - r.left, e.clientY - r.top); };
map.addEventListener("pointerdown", (e) => {
  e.stopPropagation(); // the canvas under it would start a pan
  dragging = true;
  map.setPointerCapture(e.pointerId);
  at(e);
});
map.addEventListener("pointermove", (e) => dragging && at(e));
map.addEventListener("pointerup", () => (dragging = false));
for (const type of ["click", "dblclick", "wheel"]) map.addEventListener(type, (e) => e.stopPropagation());
on("drawn", drawMap);
on("cam", drawLens);
