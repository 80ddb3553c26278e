// What a person does, and what it means: the mouse (click selects, double-click opens in place, drag
// pans, wheel zooms), touch (tap, double-tap, drag, pinch), and the keys (Tab and the arrows walk the
// boxes, Enter dives, Escape goes up). The pointer is never captured: the click and the double-click
// must reach the box under the pointer, so a drag follows the pointer on the window instead.
import { $, canvas, list, say, stage } from "./dom.js";
import { END, INDEX } from "./data.js";
import { S, on, setTrail } from "./state.js";
import { fit, keepInView, pan, zoomAt } from "./camera.js";
import { itemEl, itemOf, open, openKey, renderTable, select } from "./view.js";
import { collapse, expand } from "./inplace.js";
import { goNode } from "./search.js";
import { pause, play, seek, step } from "./player.js";

// --- drag and pinch -----------------------------------------------------------------------------------
const pointers = new Map(); // pointer id -> where it was last
let moved = 0, pressed = false; // how far the pointers went since the first went down; a button is down
const DRAG = 6; // px: a press that moved further is a drag, not a click
canvas.addEventListener("pointerdown", (e) => {
  if (e.target.closest("#list") || (e.pointerType === "mouse" && e.button !== 0)) return;
  if (!pointers.size) moved = 0;
  pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  pressed = true;
  canvas.classList.add("dragging");
});
window.addEventListener("pointermove", (e) => {
  const p = pointers.get(e.pointerId);
  if (!p) return;
  if (pointers.size === 1) {
    pan(e.clientX - p.x, e.clientY - p.y);
    moved += Math.abs(e.clientX - p.x) + Math.abs(e.clientY - p.y);
  } else if (pointers.size === 2) { // pinch: scale by the change of the distance between two fingers
    const [a, b] = [...pointers.entries()].map(([id, q]) => (id === e.pointerId ? { x: e.clientX, y: e.clientY } : q));
    const [a0, b0] = [...pointers.values()];
    const d0 = Math.hypot(a0.x - b0.x, a0.y - b0.y), d1 = Math.hypot(a.x - b.x, a.y - b.y);
    const c = canvas.getBoundingClientRect();
    if (d0 > 0) zoomAt(d1 / d0, (a.x + b.x) / 2 - c.left, (a.y + b.y) / 2 - c.top);
    moved += DRAG + 1;
  }
  pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
});
const release = (e) => {
  pointers.delete(e.pointerId);
  if (!pointers.size) {
    canvas.classList.remove("dragging");
    setTimeout(() => (pressed = false)); // after the click this press makes
  }
};
window.addEventListener("pointerup", release);
window.addEventListener("pointercancel", release);
canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  const c = canvas.getBoundingClientRect();
  zoomAt(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)), e.clientX - c.left, e.clientY - c.top);
}, { passive: false });

// --- click, double-click ----------------------------------------------------------------------------
stage.addEventListener("click", (e) => {
  if (moved > DRAG) return; // the end of a drag, not a choice
  const name = itemOf(e.target);
  select(name && name !== "legend" ? name : null);
});
stage.addEventListener("dblclick", (e) => {
  if (moved > DRAG) return;
  const name = itemOf(e.target);
  if (name && name !== "legend") openInPlace(name);
});
// a group or a cluster opens in place (and closes again); one with no drawing inside dives
async function openInPlace(name) {
  const how = collapse(name) || (await expand(name));
  const i = openKey(name);
  if (how === "same" || (!how && i === S.view)) say(`${INDEX.views[i].label}: its inside is what is drawn here (double-click one of its boxes to open it)`);
  else if (!how && i !== undefined) return dive(name);
}
// the view a group opens replaces this one
async function dive(name) {
  const i = typeof name === "string" ? openKey(name) : undefined;
  if (i === undefined || i === S.view) return;
  setTrail([...S.trail, { view: S.view, name }]);
  await open(i, { from: itemEl(name) });
  canvas.focus({ preventScroll: true });
}
// up: a group open in place closes; else back to the view this one was dived into from (or its parent),
// with the group we came from chosen
async function up() {
  const last = S.opened[S.opened.length - 1];
  if (last) {
    collapse(last.name);
    return focusItem(last.name);
  }
  const back = S.trail[S.trail.length - 1];
  const parent = INDEX.views[S.view].parent;
  if (back && within(S.view, back.view)) {
    setTrail(S.trail.slice(0, -1));
    await open(back.view);
    return focusItem(back.name);
  }
  setTrail([]);
  if (parent === null || parent === undefined) return select(null);
  const from = S.view;
  await open(parent);
  const name = [...S.items.keys()].find((k) => openKey(k) === from);
  if (name) focusItem(name);
}
// whether view i lies inside view `outer` (its parent's parent's ...)
function within(i, outer) {
  for (let v = INDEX.views[i].parent; v !== null && v !== undefined; v = INDEX.views[v].parent) if (v === outer) return true;
  return false;
}

// --- the keyboard: every box takes the focus (Tab), the arrows walk to the nearest box ----------------
stage.addEventListener("focusin", (e) => {
  const name = itemOf(e.target);
  if (name && !pressed) {
    select(name);
    keepInView(e.target.closest("g"));
  }
});
function focusItem(name) {
  const g = itemEl(name);
  if (!g) return;
  select(name);
  g.focus({ preventScroll: true });
  keepInView(g);
}
// the box nearest to `from` in direction (dx, dy): ahead of it, near its line
function nearest(from, dx, dy) {
  const r = from.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
  let best = null, score = Infinity;
  for (const g of stage.querySelectorAll("g[tabindex]")) {
    if (g === from) continue;
    const q = g.getBoundingClientRect(), gx = q.left + q.width / 2 - x, gy = q.top + q.height / 2 - y;
    const ahead = gx * dx + gy * dy, aside = Math.abs(gx * dy - gy * dx);
    if (ahead <= 1) continue;
    const s = ahead + 2 * aside;
    if (s < score) [best, score] = [g, s];
  }
  return best;
}
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea, button, a") || e.ctrlKey || e.metaKey || e.altKey) return;
  const c = canvas.getBoundingClientRect();
  const box = e.target.closest("#stage g[tabindex]"), name = box && itemOf(box);
  if (ARROWS[e.key]) {
    e.preventDefault();
    const [dx, dy] = ARROWS[e.key];
    const next = box && nearest(box, dx, dy);
    if (next) return focusItem(itemOf(next));
    return pan(-60 * dx, -60 * dy);
  }
  const keys = {
    "/": () => $("#q").focus(),
    "+": () => zoomAt(1.25, c.width / 2, c.height / 2),
    "=": () => zoomAt(1.25, c.width / 2, c.height / 2),
    "-": () => zoomAt(0.8, c.width / 2, c.height / 2),
    0: fit,
    Enter: () => (e.shiftKey && name ? openInPlace(name) : dive(name || S.sel)),
    Escape: up,
    Backspace: up,
    " ": () => (S.playing ? pause() : play()),
    ",": () => step(-1),
    ".": () => step(1),
    Home: () => seek(0),
    End: () => seek(END),
  };
  if (keys[e.key]) {
    e.preventDefault();
    keys[e.key]();
  }
});
// a drawing placed again (a group opened or closed in place) keeps the keyboard's place
on("drawn", () => {
  if (document.activeElement === document.body && S.sel !== null && typeof S.sel === "string") itemEl(S.sel)?.focus({ preventScroll: true });
});

// --- links in the page's panels -----------------------------------------------------------------------
$("#crumbs").addEventListener("click", (e) => {
  const a = e.target.closest("a[data-view]");
  if (!a) return;
  e.preventDefault();
  open(+a.dataset.view);
});
list.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-view], a[data-node], #as-table");
  if (!a) return;
  e.preventDefault();
  if (a.id === "as-table") return renderTable();
  if (a.dataset.view !== undefined) return open(+a.dataset.view);
  goNode(+a.dataset.node);
});
window.addEventListener("resize", fit);
// a copied number is its full value, not the 4 digits shown
document.addEventListener("copy", (e) => {
  const sel = getSelection();
  if (!sel.rangeCount) return;
  const range = sel.getRangeAt(0), at = range.commonAncestorContainer;
  const box = document.createElement("div");
  box.append((at.nodeType === 1 ? at : at.parentElement).closest(".fig")?.cloneNode() || range.cloneContents());
  if (!box.querySelector(".fig")) return;
  for (const f of box.querySelectorAll(".fig")) f.textContent = f.dataset.full;
  for (const r of box.querySelectorAll("tr")) r.append("\n");
  for (const c of box.querySelectorAll("td + td, th + td")) c.prepend("\t");
  e.clipboardData.setData("text/plain", box.textContent.trim());
  e.preventDefault();
});
