// The KV cache's edges in lanes beside the attention column, when the page lays a view out again: the
// plan of viz/graph/lanes.py (which draws the static figure and the views as written), point for point,
// so a view looks alike before and after a group opens in it. Coordinates are Graphviz's: points, y up.
const LANE = 7, GAP = 14, RISE = 9, TAP = 4, INSET = 6, CLEAR = 7, ARROW = 6, ROUND = 3;

const wayOut = (b) => b[1] + Math.min(6, (b[3] - b[1]) / 4);
// each edge's path from its source's side to its reader's top, or null where it does not fit (planned
// again without those); and each bundle's count, above its way out
export function plan(boxes, edges, texts) {
  let keep = new Set(edges.filter(([t, h]) => boxes.get(t)[1] > boxes.get(h)[3]));
  let paths;
  for (;;) {
    paths = planned(boxes, edges.map((e) => (keep.has(e) ? e : null)), texts);
    const blocked = edges.filter((e, k) => keep.has(e) && !paths[k]);
    if (!blocked.length) break;
    // the lanes sit right of the rightmost end: an edge into a group open in place pushes them into
    // the boxes beside the column, so such edges go first, then those still in the way
    const reach = (e) => Math.max(boxes.get(e[0])[2], boxes.get(e[1])[2]), right = Math.max(...[...keep].map(reach));
    const widest = blocked.filter((e) => reach(e) === right);
    for (const e of widest.length ? widest : blocked) keep.delete(e);
  }
  const counts = new Map();
  for (const [t] of keep) counts.set(t, (counts.get(t) || 0) + 1);
  const labels = new Map([...counts].map(([t, n]) => [t, [boxes.get(t)[2] + 2, wayOut(boxes.get(t)) + 5, `×${n}`]]));
  return { paths, labels };
}
function planned(boxes, edges, texts) {
  const live = edges.filter((e) => e);
  if (!live.length) return edges.map(() => null);
  const right = Math.max(...live.flat().map((n) => boxes.get(n)[2]));
  const tails = [...new Set(live.map(([t]) => t))].sort((a, b) => boxes.get(a)[1] - boxes.get(b)[1] || (a < b ? -1 : a > b ? 1 : 0));
  const lane = new Map(tails.map((t, k) => [t, right + GAP + k * LANE]));
  const readers = new Map();
  for (const [t, h] of live) (readers.get(h) || readers.set(h, []).get(h)).push(t);
  return edges.map((e) => {
    if (!e) return null;
    const [t, h] = e, [hx0, , hx1, hy1] = boxes.get(h), rs = readers.get(h);
    const k = [...rs].sort((a, b) => lane.get(a) - lane.get(b)).indexOf(t); // the nearest lane's tap lowest and rightmost
    // the taps come down on the right half of the top side, right of any label there
    const top = hy1 + RISE + rs.length * TAP;
    const lo = Math.max(hx0 + (hx1 - hx0) / 2, ...texts.filter((b) => b[1] < top && b[3] > hy1 && b[0] < hx1).map((b) => b[2] + 4));
    const apart = Math.min(LANE, (hx1 - INSET - lo) / Math.max(1, rs.length - 1));
    const out = wayOut(boxes.get(t)), up = hy1 + RISE + k * TAP, wayIn = hx1 - INSET - k * apart, x = lane.get(t);
    const path = [[boxes.get(t)[2], out], [x, out], [x, up], [wayIn, up], [wayIn, hy1]];
    for (const [n, box] of boxes) if (n !== t && n !== h && path.slice(1).some((b, i) => hits(box, path[i], b))) return null;
    return apart < 3 ? null : path;
  });
}
const hits = ([x0, y0, x1, y1], a, b) =>
  Math.min(a[0], b[0]) < x1 + CLEAR && Math.max(a[0], b[0]) > x0 - CLEAR && Math.min(a[1], b[1]) < y1 + CLEAR && Math.max(a[1], b[1]) > y0 - CLEAR;

// a path as Graphviz draws an edge (xdot): its line, corners rounded, shortened by its arrowhead
export function asEdge(path, width) {
  const pts = path.map((p) => [...p]), [[ax, ay], [bx, by]] = pts.slice(-2), len = Math.abs(bx - ax) + Math.abs(by - ay);
  pts[pts.length - 1] = [bx - ((bx - ax) * ARROW) / len, by - ((by - ay) * ARROW) / len];
  const towards = (c, p) => { const d = Math.abs(p[0] - c[0]) + Math.abs(p[1] - c[1]), r = Math.min(ROUND, d / 2); return d ? [c[0] + ((p[0] - c[0]) * r) / d, c[1] + ((p[1] - c[1]) * r) / d] : c; };
  const straight = (p, q) => [[p[0] + (q[0] - p[0]) / 3, p[1] + (q[1] - p[1]) / 3], [p[0] + (2 * (q[0] - p[0])) / 3, p[1] + (2 * (q[1] - p[1])) / 3], q];
  const out = [pts[0]];
  for (let i = 1; i < pts.length - 1; i++) {
    const p = towards(pts[i], pts[i - 1]), q = towards(pts[i], pts[i + 1]);
    out.push(...straight(out[out.length - 1], p), pts[i], pts[i], q);
  }
  out.push(...straight(out[out.length - 1], pts[pts.length - 1]));
  const [tx, ty] = out[out.length - 1], n = Math.hypot(bx - tx, by - ty) || 1, ux = (bx - tx) / n, uy = (by - ty) / n, half = ARROW / 3 + width / 4;
  return { _draw_: [{ op: "b", points: out }], _hdraw_: [{ op: "P", points: [[tx - uy * half, ty + ux * half], [bx, by], [tx + uy * half, ty - ux * half]] }] };
}

// every box of dot's JSON `doc` (name -> [x0, y0, x1, y1]), and the boxes of its clusters' labels
export function boxesOf(doc) {
  const boxes = new Map(), texts = [];
  for (const o of doc.objects || []) {
    if (o.pos && !o.nodes) {
      const [x, y] = o.pos.split(",").map(Number), w = o.width * 36, h = o.height * 36;
      boxes.set(o.name, [x - w, y - h, x + w, y + h]);
    } else if (o.nodes) {
      let size = 14;
      for (const op of o._ldraw_ || []) {
        if (op.op === "F") size = +op.size;
        else if (op.op === "T") {
          const x0 = op.pt[0] - { l: 0, c: op.width / 2, r: op.width }[op.align];
          texts.push([x0, op.pt[1] - 0.25 * size, x0 + op.width, op.pt[1] + 0.8 * size]);
        }
      }
    }
  }
  return { boxes, texts };
}
