// The page's glue, run last: the URL (#v=<view>&t=<time>&n=<selection>, so a blog can link to a moment),
// the keys, and the start.
let hashTimer = null;
function saveHash() {
  clearTimeout(hashTimer);
  hashTimer = setTimeout(() => {
    const parts = [`v=${encodeURIComponent(INDEX.views[S.view].key)}`, `t=${Math.round(S.t)}`];
    if (S.sel !== null && S.sel !== undefined) parts.push(`n=${encodeURIComponent(S.sel)}`);
    if (S.colour !== "grad") parts.push(`c=${S.colour}`);
    try {
      history.replaceState(null, "", "#" + parts.join("&"));
    } catch (e) {
      /* some embedders forbid it; the page works without */
    }
  }, 150);
}
async function loadHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  const v = viewOf.has(h.get("v") || "") ? viewOf.get(h.get("v") || "") : 0;
  if (h.has("t")) S.t = Math.max(0, Math.min(END, +h.get("t") || 0));
  if (h.has("c") && INDEX.compare) {
    S.colour = h.get("c");
    $("#colour").value = S.colour;
  }
  const n = h.get("n");
  await open(v, { select: n === null ? null : /^\d+$/.test(n) ? +n : n });
}

// --- keys -------------------------------------------------------------------------------------------
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea")) return;
  const c = canvas.getBoundingClientRect();
  const keys = {
    "/": () => $("#q").focus(),
    "+": () => zoomAt(1.25, c.width / 2, c.height / 2),
    "=": () => zoomAt(1.25, c.width / 2, c.height / 2),
    "-": () => zoomAt(0.8, c.width / 2, c.height / 2),
    0: fit,
    ArrowLeft: () => setCam({ ...S.cam, x: S.cam.x + 60 }),
    ArrowRight: () => setCam({ ...S.cam, x: S.cam.x - 60 }),
    ArrowUp: () => setCam({ ...S.cam, y: S.cam.y + 60 }),
    ArrowDown: () => setCam({ ...S.cam, y: S.cam.y - 60 }),
    Enter: () => {
      const i = S.sel !== null && typeof S.sel === "string" ? openKey(S.sel) : undefined;
      if (i !== undefined && i !== S.view) open(i, { from: S.items.get(S.sel) });
    },
    Backspace: () => INDEX.views[S.view].parent !== null && open(INDEX.views[S.view].parent),
    Escape: () => select(null),
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
window.addEventListener("resize", fit);

$("#title").textContent = META.heading;
setupCompare();
// for tests and scripts: the same lookups the page makes
window.explorer = { open, search, seek, select, pathFrom: (n, r) => pathFrom(n, r), order: () => [[...fwd], [...bwd]], timeAtOps, opsAt: (t) => pace()[t], state: S, ready, END };
ready.then(loadHash);
