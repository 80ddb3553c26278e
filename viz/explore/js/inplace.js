// Opening a group in place: its box grows to hold its inside (the view it opens, drawn at write time),
// the rest of the drawing makes room (expand); closing it restores the drawing from before (collapse).
const PAD = 8, HEAD = 16;
const opened = []; // the groups open in place, each with the drawing and data from before it opened
async function expand(name) {
  const i = openKey(name);
  const item = S.model.items.find((it) => it.kind === "node" && it.title === name);
  const box = item && item.shapes.find((s) => s[0] === "r");
  if (i === undefined || i === S.view || !box || INDEX.views[i].kind === "list") return false;
  const inner = await payload(i);
  if (!inner.layout) return false;
  // what is inside the group: its scalars or sub-groups, their clusters and the edges between them (not
  // the inner view's title, legend, stubs, parameter matrices, nor the clusters the frame replaces)
  const within = (t) => /^[no]\d+$/.test(t) || t.replace(/^cluster_(s_)?/, "").startsWith(name + "/");
  const inside = decode(inner.layout).items.filter((it) => it.title !== null && (it.kind === "edge" ? it.title.split("->").every(within) : within(it.title)));
  if (!inside.some((it) => it.kind === "node")) return false;
  const [ix0, iy0, ix1, iy1] = extent(inside.flatMap((it) => it.shapes));
  const [x, y, w, h] = [box[2], box[3], box[4], box[5]];
  const W = Math.max(w, ix1 - ix0 + 2 * PAD), H = Math.max(h, iy1 - iy0 + 2 * PAD + HEAD);
  const dx = W - w, dy = H - h, mx = x + w / 2, my = y + h / 2;
  const room = (px, py) => [px > mx ? dx : 0, py > my ? dy : 0]; // beyond the group's centre: moved by its growth
  const onBox = (px, py) => [Math.round((dx * Math.min(Math.max(px - x, 0), w)) / w), Math.round((dy * Math.min(Math.max(py - y, 0), h)) / h)];
  // a group opened around this one grows with it, as a cluster does; any other box moves whole
  const frames = new Set(opened.map((o) => o.name));
  const centre = new Map();
  for (const it of S.model.items) if (it.kind === "node" && it.title !== name && !frames.has(it.title) && it.shapes.length) {
    const [a, b, c, d] = extent([it.shapes[0]]);
    centre.set(it.title, room((a + c) / 2, (b + d) / 2));
  }
  const ends = (node, px, py) => (node === name ? onBox(px, py) : centre.get(node) || room(px, py));
  const items = [];
  for (const it of S.model.items) {
    if (it.title === name) {
      // the group's frame: its own outline on the page's ground, its name at the top left
      const frame = ["r", box[1].replace(/ fill="[^"]*"/, ` fill="${S.model.bg}"`), x, y, W, H, box[6]];
      // its name at the top left, in the colour of its outline (the box's own ink may be white)
      const label = it.shapes.find((s) => s[0] === "t"), ink = / stroke="([^"]*)"/.exec(box[1]);
      const font = label && ink ? label[1].replace(/ fill="[^"]*"/, ` fill="${ink[1]}"`) : label && label[1];
      items.push({ kind: "node", title: name, shapes: label ? [frame, ["t", font, x + PAD, y + 12, -1, label[5] + " ▾"]] : [frame] });
      const ox = x + PAD - ix0 + (W - 2 * PAD - (ix1 - ix0)) / 2, oy = y + PAD + HEAD - iy0;
      for (const jt of inside) items.push({ ...jt, shapes: jt.shapes.map((s) => moveShape(s, () => [Math.round(ox), Math.round(oy)])) });
    } else if (it.kind === "node" && !frames.has(it.title)) {
      const [sx, sy] = centre.get(it.title) || [0, 0];
      items.push({ ...it, shapes: it.shapes.map((s) => moveShape(s, () => [sx, sy])) });
    } else if (it.kind === "edge") {
      // each end follows its node; the points between, a mix of the two by their place along the edge
      const [tail, head] = (it.title || "").split("->");
      const pts = it.shapes.filter((s) => !"ret".includes(s[0]));
      const first = pts.length ? pts[0] : null, last = pts.length ? pts[pts.length - 1] : null;
      const a = first ? ends(tail, first[2], first[3]) : [0, 0], b = last ? ends(head, last[last.length - 2], last[last.length - 1]) : [0, 0];
      const n = first ? first.length / 2 - 1 : 1;
      items.push({ ...it, shapes: it.shapes.map((s) => {
        if (s !== first) return moveShape(s, () => b);
        let k = 0;
        return moveShape(s, () => { const f = n > 1 ? k++ / (n - 1) : 1; return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f)]; });
      }) });
    } else if (it.kind === "cluster" || it.kind === "node") {
      items.push({ ...it, shapes: it.shapes.map((s) => moveShape(s, room, true)) });
    } else items.push(it);
  }
  opened.push({ name, model: S.model, data: S.data });
  S.model = { ...S.model, w: S.model.w + dx, h: S.model.h + dy, items };
  const merge = (k) => (S.data[k] || inner[k] ? { ...(S.data[k] || {}), ...(inner[k] || {}) } : undefined);
  S.data = { ...S.data, groupOf: undefined, items: merge("items"), edges: merge("edges"), nodes: merge("nodes"), clusters: merge("clusters"), members: merge("members"), cmp: merge("cmp") };
  redraw();
  return true;
}
function collapse(name) {
  const k = opened.findIndex((o) => o.name === name);
  if (k < 0) return false;
  S.model = opened[k].model;
  S.data = opened[k].data;
  opened.length = k; // groups opened inside it close with it
  redraw();
  return true;
}
