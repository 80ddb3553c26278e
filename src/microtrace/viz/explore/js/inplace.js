// Opening a group in place: its box grows to hold its inside (the view it opens, drawn at write time),
// the rest of the drawing makes room (expand); closing it restores the drawing from before (collapse).
// A cluster opens the same way: the boxes drawn in it make way for its own inside. S.opened: the groups
// open in place, each with the drawing and data from before it opened.
import { INDEX, T, operands, payload, users } from "./data.js";
import { S, setDrawing } from "./state.js";
import { decode, extent, moveShape } from "./draw.js";
import { itemOfNode, openKey, place } from "./view.js";

const PAD = 8, HEAD = 16;
export async function expand(name) {
  const i = openKey(name), cluster = name.startsWith("cluster_"), key = cluster ? name.slice(8) : name;
  // what the group replaces: itself, or a cluster's boxes (and the clusters in it)
  const mine = (t) => t === name || (cluster && typeof t === "string" && (t.startsWith(key + "/") || t.startsWith(name + "/")));
  const nested = S.opened.find((o) => o.name !== name && mine(o.name));
  if (nested) collapse(nested.name); // what was opened inside the cluster closes first
  const item = S.model.items.find((it) => it.kind === (cluster ? "cluster" : "node") && it.title === name);
  const shape = item && (cluster ? item.shapes[0] : item.shapes.find((s) => s[0] === "r"));
  if (i === undefined || i === S.view || !shape || INDEX.views[i].kind === "list") return false;
  const inner = await payload(i);
  if (!inner.layout) return false;
  const [bx0, by0, bx1, by1] = extent([shape]), box = ["r", shape[1], bx0, by0, bx1 - bx0, by1 - by0, shape[0] === "r" ? shape[6] : 8];
  // what is inside the group: its scalars or sub-groups, their clusters and the edges between them (not
  // the inner view's title, legend, stubs, parameter matrices, nor the clusters the frame replaces)
  const within = (t) => /^[no]\d+$/.test(t) || t.replace(/^cluster_(s_)?/, "").startsWith(key + "/");
  const inside = decode(inner.layout).items.filter((it) => it.title !== null && (it.kind === "edge" ? it.title.split("->").every(within) : within(it.title)));
  if (!inside.some((it) => it.kind === "node")) return false;
  const members = S.model.items.filter((it) => it.kind === "node" && mine(it.title)).map((it) => it.title);
  // a cluster whose inside is the very boxes drawn in it: nothing to open (the caller says so)
  if (cluster && inside.filter((it) => it.kind === "node").every((it) => members.includes(it.title))) return "same";
  const [ix0, iy0, ix1, iy1] = extent(inside.flatMap((it) => it.shapes));
  const [x, y, w, h] = [box[2], box[3], box[4], box[5]];
  const W = Math.max(w, ix1 - ix0 + 2 * PAD), H = Math.max(h, iy1 - iy0 + 2 * PAD + HEAD);
  const dx = W - w, dy = H - h, mx = x + w / 2, my = y + h / 2;
  const room = (px, py) => [px > mx ? dx : 0, py > my ? dy : 0]; // beyond the group's centre: moved by its growth
  const onBox = (px, py) => [Math.round((dx * Math.min(Math.max(px - x, 0), w)) / w), Math.round((dy * Math.min(Math.max(py - y, 0), h)) / h)];
  // a group opened around this one grows with it, as a cluster does; any other box moves whole
  const frames = new Set(S.opened.map((o) => o.name));
  const centre = new Map(), boxAt = new Map();
  for (const it of S.model.items) if (it.kind === "node" && it.shapes.length) {
    const [a, b, c, d] = extent([it.shapes[0]]);
    boxAt.set(it.title, [a, b, c, d]);
    if (!mine(it.title) && !frames.has(it.title)) centre.set(it.title, room((a + c) / 2, (b + d) / 2));
  }
  // how far a point lies from a node's box (dot may write an edge's curve from its head to its tail)
  const gap = (node, p) => {
    const e = boxAt.get(node);
    return e ? Math.hypot(Math.max(e[0] - p[0], 0, p[0] - e[2]), Math.max(e[1] - p[1], 0, p[1] - e[3])) : 0;
  };
  const ends = (node, px, py) => (mine(node) ? onBox(px, py) : centre.get(node) || room(px, py));
  const ox = Math.round(x + PAD - ix0 + (W - 2 * PAD - (ix1 - ix0)) / 2), oy = Math.round(y + PAD + HEAD - iy0);
  const moved = inside.map((jt) => ({ ...jt, shapes: jt.shapes.map((s) => moveShape(s, () => [ox, oy])) }));
  const shapeOf = new Map(moved.filter((it) => it.kind === "node" && it.shapes.length).map((it) => [it.title, it.shapes[0]]));
  const cross = crossings(mine, members, inner, shapeOf), parts = {};
  const items = [], branches = [];
  for (const it of S.model.items) {
    if (it.title === name) {
      // the group's frame: its own outline on the page's ground, its name at the top left
      const frame = ["r", cluster ? box[1] : box[1].replace(/ fill="[^"]*"/, ` fill="${S.model.bg}"`), x, y, W, H, box[6]];
      // its name at the top left, in the colour of its outline (the box's own ink may be white)
      const label = it.shapes.find((s) => s[0] === "t"), ink = / stroke="([^"]*)"/.exec(box[1]);
      const font = label && ink && !cluster ? label[1].replace(/ fill="[^"]*"/, ` fill="${ink[1]}"`) : label && label[1];
      items.push({ kind: item.kind, title: name, shapes: label ? [frame, ["t", font, x + PAD, y + 12, -1, label[5] + " ▾"]] : [frame] });
      items.push(...moved.filter((jt) => jt.kind === "cluster"));
    } else if (mine(it.title)) {
      continue; // a cluster's boxes: its inside takes their place
    } else if (it.kind === "node" && !frames.has(it.title)) {
      const [sx, sy] = centre.get(it.title) || [0, 0];
      items.push({ ...it, shapes: it.shapes.map((s) => moveShape(s, () => [sx, sy])) });
    } else if (it.kind === "edge") {
      // each end follows its node; the points between, a mix of the two by their place along the edge
      const [tail, head] = (it.title || "").replace(/:[nsewc]{1,2}(?=->|$)/g, "").split("->");
      const first = it.shapes.find((s) => !"ret".includes(s[0])); // the curve (the arrowheads follow it)
      const p0 = first && [first[2], first[3]], p1 = first && [first[first.length - 2], first[first.length - 1]];
      const rev = first && gap(head, p0) + gap(tail, p1) < gap(tail, p0) + gap(head, p1); // the curve runs head to tail
      const a = first ? ends(rev ? head : tail, ...p0) : [0, 0], b = first ? ends(rev ? tail : head, ...p1) : [0, 0];
      const n = first ? first.length / 2 - 1 : 1;
      const shapes = it.shapes.map((s) => {
        // an arrowhead follows the end of the curve it sits at
        if (s !== first) return moveShape(s, () => (first && Math.hypot(s[2] - p0[0], s[3] - p0[1]) < Math.hypot(s[2] - p1[0], s[3] - p1[1]) ? a : b));
        let k = 0;
        return moveShape(s, () => { const f = n > 1 ? k++ / (n - 1) : 1; return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f)]; });
      });
      // an edge that crosses the opened outline: one branch to (or from) each inner node it really touches
      const key = `${tail}->${head}`, to = cross.get(key);
      if (mine(tail) && mine(head)) continue; // between a cluster's boxes: its inside has its own
      if (!to || mine(tail) === mine(head)) items.push({ ...it, shapes });
      else for (const [end, count] of to) {
        const title = mine(tail) ? `${end}->${head}` : `${tail}->${end}`;
        branches.push({ ...it, title, shapes: reaim(shapes, mine(head) !== rev, shapeOf.get(end)) });
        parts[title] = { "part of": key, "elementary edges": count };
      }
    } else if (it.kind === "cluster" || it.kind === "node") {
      // along an axis where it spans the group it grows, corner by corner; along the other it moves whole
      const [c0, c1, c2, c3] = extent([it.shapes[0]]), sx = c0 <= x && c2 >= x + w, sy = c1 <= y && c3 >= y + h;
      const f = (px, py) => [room(sx ? px : (c0 + c2) / 2, 0)[0], room(0, sy ? py : (c1 + c3) / 2)[1]];
      items.push({ ...it, shapes: it.shapes.map((s) => moveShape(s, f, true)) });
    } else items.push(it);
  }
  // drawn last: the branches, then the inside's edges and boxes (over every edge that passes by)
  items.push(...branches, ...moved.filter((jt) => jt.kind !== "cluster"));
  const merge = (k) => (S.data[k] || inner[k] ? { ...(S.data[k] || {}), ...(inner[k] || {}) } : undefined);
  const data = { ...S.data, items: merge("items"), edges: { ...merge("edges"), ...parts }, nodes: merge("nodes"), clusters: merge("clusters"), members: merge("members"), cmp: merge("cmp") };
  setDrawing({ ...S.model, w: S.model.w + dx, h: S.model.h + dy, items }, data, [...S.opened, { name, model: S.model, data: S.data }]);
  place();
  return true;
}
// Of the elementary edges between the group's boxes (`members`) and the rest of the drawing, by the
// drawn edge ("a->member" or "member->b") they belong to: the inner item each touches (an operation's ellipse where it has one,
// a value box, or a sub-group) and how many touch it.
function crossings(mine, members, inner, shapeOf) {
  const stageGroup = new Map();
  for (const [g, stages] of Object.entries(inner.members || {})) if (shapeOf.has(g)) for (const s of stages) stageGroup.set(s, g);
  const innerOf = (n, into) => {
    if (!inner.nodes) return stageGroup.get(T.nodeScope[n]);
    return into && shapeOf.has("o" + n) ? "o" + n : shapeOf.has("n" + n) ? "n" + n : undefined;
  };
  const out = new Map();
  const add = (key, end) => {
    if (end === undefined) return;
    if (!out.has(key)) out.set(key, new Map());
    out.get(key).set(end, (out.get(key).get(end) || 0) + 1);
  };
  for (const m of members) {
    const range = S.data.items && S.data.items[m] && S.data.items[m].range;
    if (range) for (let v = range[0]; v <= range[1]; v++) {
      if (itemOfNode(v) !== m) continue;
      for (const [u] of operands(v)) { const o = itemOfNode(u); if (o && !mine(o)) add(`${o}->${m}`, innerOf(v, true)); }
      for (const [w] of users(v)) { const o = itemOfNode(w); if (o && !mine(o)) add(`${m}->${o}`, innerOf(v, false)); }
    }
  }
  return out;
}
// An edge's end on the opened outline re-aimed at the inner node `target` (its box or ellipse): the
// curve keeps its course up to its last segment, which bends smoothly into the side of the node that
// faces it; the arrowhead at that end turns with it.
function reaim(shapes, atLast, target) {
  const curve = shapes.find((s) => s[0] === "b");
  if (!curve || !target) return shapes;
  const P = [];
  for (let i = 2; i < curve.length; i += 2) P.push([curve[i], curve[i + 1]]);
  if (!atLast) P.reverse();
  const end = P[P.length - 1];
  const near = (s) => s[0] === "p" && Math.hypot(s[2] - end[0], s[3] - end[1]) < 20;
  const arrow = shapes.find(near);
  let tip = end, L = 0;
  if (arrow) for (let i = 2; i < arrow.length; i += 2) {
    const d = Math.hypot(arrow[i] - end[0], arrow[i + 1] - end[1]);
    if (d > L) [L, tip] = [d, [arrow[i], arrow[i + 1]]];
  }
  // the side of the target that faces where the curve comes from (dot draws top to bottom)
  const keep = P.length >= 7 ? P.length - 3 : 1, from = P[keep - 1];
  const [a, b, c, d] = extent([target]), cx = (a + c) / 2, cy = (b + d) / 2;
  const fx = (from[0] - cx) / (c - a || 1), fy = (from[1] - cy) / (d - b || 1);
  const [T, nrm] = Math.abs(fy) >= Math.abs(fx) ? [[cx, fy < 0 ? b : d], [0, Math.sign(fy) || -1]] : [[fx < 0 ? a : c, cy], [Math.sign(fx), 0]];
  const E = [T[0] + nrm[0] * L, T[1] + nrm[1] * L];
  const r = Math.max(8, Math.hypot(E[0] - from[0], E[1] - from[1]) / 3);
  let dir = [E[0] - from[0], E[1] - from[1]];
  if (keep > 1) dir = [from[0] - P[keep - 2][0], from[1] - P[keep - 2][1]]; // on along the curve's own tangent
  const len = Math.hypot(dir[0], dir[1]) || 1;
  const Q = [...P.slice(0, keep), [from[0] + (dir[0] / len) * r, from[1] + (dir[1] / len) * r], [E[0] + nrm[0] * r, E[1] + nrm[1] * r], E];
  if (!atLast) Q.reverse();
  const round = (v) => Math.round(v * 10) / 10;
  // the arrowhead turned from its old direction (end -> tip) to the new one (-nrm), its base at E
  const u = [(tip[0] - end[0]) / (L || 1), (tip[1] - end[1]) / (L || 1)], w = [-nrm[0], -nrm[1]];
  const cos = u[0] * w[0] + u[1] * w[1], sin = u[0] * w[1] - u[1] * w[0];
  const turn = (px, py) => {
    const qx = px - end[0], qy = py - end[1];
    return [round(E[0] + qx * cos - qy * sin), round(E[1] + qx * sin + qy * cos)];
  };
  return shapes.map((s) => {
    if (s === curve) return ["b", s[1], ...Q.flatMap(([px, py]) => [round(px), round(py)])];
    if (s !== arrow) return s;
    const out = [s[0], s[1]];
    for (let i = 2; i < s.length; i += 2) out.push(...turn(s[i], s[i + 1]));
    return out;
  });
}
export function collapse(name) {
  const k = S.opened.findIndex((o) => o.name === name);
  if (k < 0) return false;
  setDrawing(S.opened[k].model, S.opened[k].data, S.opened.slice(0, k)); // groups opened inside it close with it
  place();
  return true;
}
