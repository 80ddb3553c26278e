// The split view (--compare): the two steps side by side under one camera. The right pane is the left's
// drawing seen again (one layout: nodes are paired by what they are), each box filled by the other
// step's |grad| on this step's scale, grey where the other step has no such node; its numbers are in the
// inspector. Pan, zoom, open or close in either pane and both follow: they are one drawing.
import { $, canvas, esc, stage } from "./dom.js";
import { INDEX } from "./data.js";
import { S, on, setCam } from "./state.js";
import { zoomAt } from "./camera.js";
import { select } from "./view.js";
import { collapse, expand } from "./inplace.js";
import { NONE, inkOn } from "./compare.js";

let pane = null, copy = null; // the right pane and the drawing in it, while the split view is on

const titleOf = (g) => g && g.querySelector(":scope > title")?.textContent;
// the other step's colours on a copy of the drawing; each box shows its name only (its numbers are this
// step's: the inspector gives both). The copy is for the eyes: the keyboard and screen readers have the
// left pane, so the copy takes no focus, holds no id twice and is hidden from assistive technology.
function paint() {
  if (!pane) return;
  copy?.remove();
  copy = stage.cloneNode(true);
  copy.id = "stage2";
  copy.classList.remove("zooming");
  copy.setAttribute("aria-hidden", "true");
  for (const el of copy.querySelectorAll("[id], [tabindex], [role], [aria-label]")) ["id", "tabindex", "role", "aria-label"].forEach((a) => el.removeAttribute(a));
  for (const t of copy.querySelectorAll("g.graph > text")) t.setAttribute("visibility", "hidden"); // this step's title: the pane names its own
  const cmp = (S.data && S.data.cmp) || {};
  for (const g of copy.querySelectorAll("g.node")) {
    const name = titleOf(g), shape = g.querySelector(":scope > polygon, :scope > path, :scope > rect, :scope > ellipse");
    if (!shape || name === "legend") continue;
    const fill = cmp[name] ? cmp[name][2] : NONE;
    shape.setAttribute("fill", fill);
    [...g.querySelectorAll(":scope > text")].forEach((t, k) => (k ? t.setAttribute("visibility", "hidden") : t.setAttribute("fill", inkOn(fill))));
  }
  pane.append(copy);
}
function show(wanted) {
  canvas.classList.toggle("split", wanted);
  if (!wanted) return pane?.remove(), (pane = copy = null);
  const c = INDEX.compare;
  pane = document.createElement("div");
  pane.id = "split";
  pane.innerHTML = `<p class="pane-label">step ${c.step} “${esc(c.doc)}”: its |grad| on this step's scale, numbers in the inspector; grey: no such node there</p>`;
  canvas.append(pane);
  paint();
  wire();
  fitHalf();
}
// the whole drawing in the left half (then, being the same camera, in the right one)
function fitHalf() {
  const svg = stage.querySelector("svg"), r = pane.getBoundingClientRect();
  if (!svg) return;
  const w = svg.width.baseVal.value, h = svg.height.baseVal.value;
  const k = Math.min(r.width / w, r.height / h, 1.5) * 0.95;
  setCam({ k, x: (r.width - w * k) / 2, y: Math.max(24, (r.height - h * k) / 2) });
}
// a drag starts on the canvas (the pane is inside it, so the press reaches input.js); the wheel zooms
// about the pointer in this pane; a click chooses, a double-click opens or closes the same group
function wire() {
  let down = null;
  pane.addEventListener("pointerdown", (e) => (down = { x: e.clientX, y: e.clientY }));
  const still = (e) => down && Math.abs(e.clientX - down.x) + Math.abs(e.clientY - down.y) <= 6;
  const item = (e) => titleOf(e.target.closest("#stage2 g.node, #stage2 g.cluster, #stage2 g.opened"));
  pane.addEventListener("wheel", (e) => {
    e.preventDefault();
    e.stopPropagation();
    const r = pane.getBoundingClientRect(); // the drawing starts inside the pane's left border
    zoomAt(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)), e.clientX - r.left - pane.clientLeft, e.clientY - r.top);
  }, { passive: false });
  pane.addEventListener("click", (e) => {
    const name = item(e);
    if (still(e)) select(name && name !== "legend" ? name : null);
  });
  pane.addEventListener("dblclick", async (e) => {
    const name = item(e);
    if (still(e) && name && name !== "legend") collapse(name) || (await expand(name));
  });
}
on("drawn", paint);
on("cam", () => copy && (copy.style.transform = stage.style.transform));
if (INDEX.compare) $("#compare").addEventListener("change", (e) => e.target.id === "split-on" && show(e.target.checked));
