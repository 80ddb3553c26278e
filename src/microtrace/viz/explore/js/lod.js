// Level of detail: no text on screen smaller than MIN_PX. Zoomed out, a box keeps its name (the first
// line), drawn at MIN_PX and centred in the box when it fits there, and hides its other lines; a
// cluster keeps its label the same way; every other text too small to read (an edge's label, the
// legend's) is hidden. Zooming in brings each back as soon as it reads at MIN_PX.
import { stage } from "./dom.js";
import { S, on } from "./state.js";

const MIN_PX = 9;
const PX = 4 / 3; // the drawing's SVG is 4/3 px a point at scale 1 (draw.js render)
let texts = [], scale = 0;

// every text of the drawing with what it needs to decide: its size, and for a box's or a cluster's
// name the room it has (points)
function survey() {
  texts = [];
  scale = 0;
  for (const g of stage.querySelectorAll("g.node, g.cluster, g.edge, g.graph")) {
    const lines = [...g.querySelectorAll(":scope > text")];
    if (!lines.length) continue;
    const shape = g.querySelector(":scope > rect, :scope > path, :scope > polygon, :scope > ellipse");
    const legend = g.querySelector(":scope > title")?.textContent === "legend";
    const named = !legend && shape && (g.classList.contains("node") || g.classList.contains("cluster"));
    const room = named ? shape.getBBox() : null;
    lines.forEach((t, k) => {
      const size = +t.getAttribute("font-size") || 14;
      const main = named && k === 0;
      texts.push({ t, g, size, main, room, legend, y: +t.getAttribute("y"), width: main ? t.getComputedTextLength() : 0, cluster: g.classList.contains("cluster"), state: "", style: "" });
    });
  }
  fit();
}

// what each text shows at the camera's scale: as drawn, "big" (a name at MIN_PX) or hidden; what LOD
// changes is in the text's class and style only, so the drawing itself stays as written
function fit() {
  const s = S.cam.k * PX;
  if (s === scale) return;
  scale = s;
  const hidden = new Set();
  for (const x of texts) {
    x.state = "";
    if (x.size * s < MIN_PX - 0.01) {
      const big = MIN_PX / s, wide = (x.width * big) / x.size;
      // a box's name may run a quarter of its width past each side ("mean loss" on its small box): a
      // box without its name tells a reader nothing; a cluster's label stays within its frame
      const fits = x.main && wide <= (x.cluster ? x.room.width + 4 : x.room.width * 1.5);
      x.state = fits && (x.cluster || big <= x.room.height - 2) ? "big" : "hide";
    }
    if (x.state === "hide") hidden.add(x.g);
  }
  for (const x of texts) {
    let style = "";
    if (x.state === "big") style = `font-size: ${MIN_PX / s}px;`;
    // a cluster's label grows down from the cluster's top; a box whose other lines are hidden shows its
    // name in its middle
    if (x.state === "big" && x.cluster) style += ` transform: translateY(${(x.room.y + (MIN_PX / s) * 0.95 + 1 - x.y).toFixed(1)}px);`;
    else if (x.main && !x.cluster && x.state !== "hide" && hidden.has(x.g)) style += ` dominant-baseline: central; transform: translateY(${(x.room.y + x.room.height / 2 - x.y).toFixed(1)}px);`;
    if (style !== x.style) {
      x.style = style;
      if (style) x.t.setAttribute("style", style.trim());
      else x.t.removeAttribute("style");
    }
    x.t.classList.toggle("lod-hide", x.state === "hide");
  }
  // the legend shows whole or not at all
  for (const x of texts) if (x.legend) x.g.classList.toggle("lod-hide", hidden.has(x.g));
}

on("drawn", survey);
on("cam", fit);
