// The URL: #v=<view>&t=<time>&n=<selection>&c=<colour>, so a blog can link to a moment; saved as the
// state changes, read once at the start.
import { $ } from "./dom.js";
import { INDEX, viewOf } from "./data.js";
import { S, on, setColour, setTime } from "./state.js";
import { open } from "./view.js";

let timer = null;
function saveHash() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (S.view < 0) return;
    const parts = [`v=${encodeURIComponent(INDEX.views[S.view].key)}`, `t=${Math.round(S.t)}`];
    if (S.sel !== null) parts.push(`n=${encodeURIComponent(S.sel)}`);
    if (S.colour !== "grad") parts.push(`c=${S.colour}`);
    try {
      history.replaceState(null, "", "#" + parts.join("&"));
    } catch (e) {
      /* some embedders forbid it; the page works without */
    }
  }, 150);
}
for (const what of ["sel", "time", "colour", "paths"]) on(what, saveHash);

export async function loadHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  const v = viewOf.has(h.get("v") || "") ? viewOf.get(h.get("v") || "") : 0;
  if (h.has("t")) setTime(+h.get("t") || 0);
  if (h.has("c") && INDEX.compare && $("#colour")) setColour(h.get("c"));
  const n = h.get("n");
  await open(v, { select: n === null ? null : /^\d+$/.test(n) ? +n : n });
}
