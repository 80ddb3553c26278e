// Laying a view out again with groups open in place: the view's graph as dot saw it when the page was
// written (layout.py `skeleton`: every node's size, the clusters, rank constraints, edges with their
// weights and ports, invisible ones included), each open group's box replaced by a cluster holding the
// graph of its inside, laid out by Graphviz's dot itself (a WebAssembly build, vendor/, inlined), so the
// page and the static figures keep one layout engine. The boxes keep their drawing, moved to where dot
// now puts them; clusters are drawn at their new extent; edges take dot's new curves and arrowheads.
// GRAPHVIZ (the library's Graphviz class) is defined by a script of its own after the page's (page.py).
import { say } from "./dom.js";
import { S, on } from "./state.js";
import { decode, extent, moveShape } from "./draw.js";
import { asEdge, boxesOf, plan } from "./lanes.js";
import { route } from "./router.js";

let gvLoad = null;
export function layoutEngine() {
  // compiled once, when first needed, after the page has loaded (the library's script comes last)
  if (!gvLoad) gvLoad = new Promise((res) => (document.readyState === "loading" ? addEventListener("DOMContentLoaded", res) : res()))
    .then(() => (typeof WebAssembly === "undefined" || typeof GRAPHVIZ === "undefined" ? null : GRAPHVIZ.load()))
    .catch(() => null);
  return gvLoad;
}
// the first drawing on screen: Graphviz compiled and run once on it while the reader looks (dot and the
// router of the edges that place no node, which cost 430 ms cold in the first re-layout, 50 ms warm),
// so that the first group opened in place is laid out by warm code
let warm = false;
on("drawn", () => {
  if (warm || !S.data || !S.data.layout || !S.data.layout.dot) return;
  warm = true;
  const G = graphOf(S.data.layout.dot, S.model), model = S.model;
  setTimeout(() => layoutEngine().then((gv) => gv && relaidOut(G, model)).catch(() => {}), 50);
});
const dotq = (s) => '"' + String(s).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") + '"';

// A view's graph to lay out, each node, cluster and edge with the item that draws it (`model`: decoded).
export function graphOf(sk, model) {
  const G = { attrs: sk.g, nodes: new Map(), clusters: new Map(), ranks: [], edges: [], introduced: new Map(), frames: 0 };
  const byTitle = itemsByTitle(model);
  const cid = sk.c.map((c) => c[0]);
  sk.c.forEach(([name, up, a]) => G.clusters.set(name, { up: up < 0 ? null : cid[up], a, title: name, item: byTitle.get("cluster " + name)?.[0] }));
  sk.n.forEach(([name, w, h, a, c]) => G.nodes.set(name, { w, h, a, c: c < 0 ? null : cid[c], item: byTitle.get("node " + name)?.[0] }));
  for (const [rank, ...ns] of sk.r) G.ranks.push([rank, ...ns.map((k) => sk.n[k][0])]);
  const taken = new Map();
  for (const [t, h, a] of sk.e) {
    const tail = sk.n[t][0], head = sk.n[h][0], title = `${tail}->${head}`, k = taken.get(title) || 0;
    const item = /style="invis"/.test(a) ? null : byTitle.get("edge " + title)?.[k];
    if (item) taken.set(title, k + 1);
    G.edges.push({ tail, head, a, item, title });
  }
  G.clusterOf = (title) => [...G.clusters].find(([, c]) => c.title === title)?.[0];
  // is item `name` (a node, or a group open as a frame) inside the cluster titled `title`?
  G.owner = (name, title) => {
    const top = G.clusterOf(title);
    let c = G.nodes.has(name) ? G.nodes.get(name).c : G.clusters.get(G.clusterOf(name))?.up;
    for (; c; c = G.clusters.get(c).up) if (c === top) return true;
    return false;
  };
  G.membersOf = (title) => (G.nodes.has(title) ? [title] : [...G.nodes.keys()].filter((n) => G.owner(n, title)));
  G.open = (title, inner, within, cross) => openInGraph(G, title, inner, within, cross, model.bg);
  return G;
}
function itemsByTitle(model) {
  const out = new Map();
  for (const it of model.items) if (it.title !== null) {
    const key = it.kind + " " + (it.kind === "edge" ? it.title.replace(/:[nsewc]{1,2}(?=->|$)/g, "") : it.title);
    if (!out.has(key)) out.set(key, []);
    out.get(key).push(it);
  }
  return out;
}

// Group `title` (a box, or a cluster) opened in G: its boxes give way to the nodes, clusters and edges
// of `inner` (its view) that `within` keeps, in a frame (the cluster itself, or a new one in the box's
// place); an edge between the group and the rest becomes one edge to (or from) each inner node its
// elementary edges touch (`cross`). Returns the inspector's notes on those edges.
function openInGraph(G, title, inner, within, cross, bg) {
  const sk = inner.layout.dot, byTitle = itemsByTitle(decode(inner.layout)), parts = {};
  const gone = new Set(G.membersOf(title));
  let frame = G.clusterOf(title);
  if (frame === undefined) { // a box: a frame in its place, named as the box, its outline on the page's ground
    const node = G.nodes.get(title);
    frame = `cluster_open${++G.frames}`;
    const label = node.item?.shapes.find((s) => s[0] === "t");
    const size = label ? +(/font-size="([^"]*)"/.exec(label[1]) || [0, 11])[1] : 11;
    G.clusters.set(frame, { up: node.c, a: `label=${dotq((label ? label[5] : title) + " ▾")} fontsize=${size} labeljust="l" margin="8"`, title, item: frameItem(node.item, title, bg) });
  } else for (const [c, k] of [...G.clusters]) if (c !== frame && G.owner(k.title, title)) G.clusters.delete(c);
  for (const n of gone) G.nodes.delete(n);
  const cid = sk.c.map((c) => c[0]);
  const up = (c) => { for (; c >= 0; c = sk.c[c][1]) if (within(cid[c])) return cid[c]; return frame; };
  for (const [k, [name, , a]] of sk.c.entries()) if (within(name)) {
    G.clusters.set(name, { up: sk.c[k][1] < 0 ? frame : up(sk.c[k][1]), a, title: name, item: byTitle.get("cluster " + name)?.[0] });
    G.introduced.set(name, title);
  }
  for (const [name, w, h, a, c] of sk.n) if (within(name)) {
    G.nodes.set(name, { w, h, a, c: up(c), item: byTitle.get("node " + name)?.[0] });
    G.introduced.set(name, title);
  }
  G.ranks = G.ranks.map((r) => r.filter((n, k) => k === 0 || !gone.has(n))).filter((r) => r.length > 2);
  for (const [rank, ...ns] of sk.r) if (ns.every((k) => within(sk.n[k][0]))) G.ranks.push([rank, ...ns.map((k) => sk.n[k][0])]);
  const edges = [];
  for (const e of G.edges) {
    const inT = gone.has(e.tail), inH = gone.has(e.head);
    if (!inT && !inH) edges.push(e);
    else if (inT !== inH && e.item) for (const [end, count] of cross.get(e.title) || []) {
      // one edge to each inner node it touches; the port on the group's side goes with the group
      const tail = inT ? end : e.tail, head = inH ? end : e.head, t = `${tail}->${head}`;
      edges.push({ tail, head, a: e.a.replace(inT ? /tailport="[^"]*"/ : /headport="[^"]*"/, ""), item: e.item, title: t });
      parts[t] = { "part of": e.title, "elementary edges": count };
    }
  }
  const taken = new Map();
  for (const [t, h, a] of sk.e) {
    const tail = sk.n[t][0], head = sk.n[h][0], name = `${tail}->${head}`;
    if (!within(tail) || !within(head)) continue;
    const k = taken.get(name) || 0, item = /style="invis"/.test(a) ? null : byTitle.get("edge " + name)?.[k];
    if (item) taken.set(name, k + 1);
    edges.push({ tail, head, a, item, title: name });
  }
  G.edges = edges;
  return parts;
}
// the frame of a box opened in place: its outline on the page's ground, its name top left in the
// outline's colour (the box's own ink may be white on a dark fill)
function frameItem(box, title, bg) {
  const outline = box && box.shapes.find((s) => "rpB".includes(s[0]));
  const paint = outline ? outline[1].replace(/ fill="[^"]*"/, ` fill="${bg}"`) : ` fill="none" stroke="#5a5a5a"`;
  const label = box && box.shapes.find((s) => s[0] === "t"), ink = / stroke="([^"]*)"/.exec(paint);
  const font = label ? label[1].replace(/ fill="[^"]*"/, ` fill="${ink ? ink[1] : "#1f1f1f"}"`) : ` font-size="11" fill="#1f1f1f"`;
  return { kind: "cluster", title, shapes: [["r", paint, 0, 0, 0, 0, 8], ["t", font, 8, 12, -1, (label ? label[5] : title) + " ▾"]] };
}

// G as DOT: every node a fixed-size empty box (or ellipse) of the size dot gave it when the page was
// written; `edges`: G's edges that place nodes (an edge that does not, constraint=false, such as the
// KV cache's, still takes part in ordering each rank, and would put position 3 above position 2); nor
// does an edge from one position's cluster into another's (inside an opened position, a key or value
// feeding a later position's heads), which would scramble the heads' order
function placing(G, e) {
  if (/style="invis"/.test(e.a)) return true; // drawn by nobody: they are there to keep an order
  if (/constraint="false"/.test(e.a)) return false;
  const top = (c) => { while (c && G.clusters.get(c).up) c = G.clusters.get(c).up; return c; };
  const a = top(G.nodes.get(e.tail)?.c), b = top(G.nodes.get(e.head)?.c);
  return !(a && b && a !== b);
}
export function toDot(G, edges = G.edges.filter((e) => placing(G, e))) {
  const out = [`digraph{graph[${G.attrs}];node[fixedsize="true" label=""];`], kids = new Map(), here = new Map();
  for (const [c, k] of G.clusters) (kids.get(k.up) || kids.set(k.up, []).get(k.up)).push(c);
  for (const [n, k] of G.nodes) (here.get(k.c) || here.set(k.c, []).get(k.c)).push(n);
  const emit = (c) => {
    for (const n of here.get(c) || []) { const k = G.nodes.get(n); out.push(`${dotq(n)}[width=${k.w} height=${k.h} ${k.a}];`); }
    for (const d of kids.get(c) || []) { out.push(`subgraph ${dotq(d)}{${G.clusters.get(d).a};`); emit(d); out.push("}"); }
  };
  emit(null);
  for (const [rank, ...ns] of G.ranks) out.push(`{rank=${dotq(rank)};${ns.map(dotq).join(";")}}`);
  for (const e of edges) out.push(`${dotq(e.tail)}->${dotq(e.head)}[${e.a}];`);
  out.push("}");
  return out.join("\n");
}
// the edges that do not place nodes, routed around the boxes where dot placed them (Graphviz's
// spline router: neato on fixed positions, its -n2)
function routed(gv, doc, edges) {
  const out = [`digraph{graph[splines="true" pad="0"];node[fixedsize="true" label=""];`];
  for (const o of doc.objects || []) if (o.pos) out.push(`${dotq(o.name)}[pos="${o.pos}!" width=${o.width} height=${o.height} shape=${dotq(o.shape || "box")}];`);
  for (const e of edges) out.push(`${dotq(e.tail)}->${dotq(e.head)}[${e.a.replace(/constraint="false"/, "")}];`);
  out.push("}");
  const r = JSON.parse(gv.layout(out.join("\n"), "json", "neato", { nop: 2 }));
  // neato moves the drawing to the origin: back to dot's coordinates
  const was = new Map((doc.objects || []).filter((o) => o.pos).map((o) => [o.name, o.pos.split(",").map(Number)]));
  const one = (r.objects || []).find((o) => o.pos && was.has(o.name)), now = one ? one.pos.split(",").map(Number) : [0, 0];
  const [dx, dy] = one ? [was.get(one.name)[0] - now[0], was.get(one.name)[1] - now[1]] : [0, 0];
  for (const e of r.edges || []) for (const k of ["_draw_", "_tdraw_", "_hdraw_"]) for (const op of e[k] || []) if (op.points) op.points = op.points.map(([x, y]) => [x + dx, y + dy]);
  return r.edges || [];
}

// the KV cache's edges (class "kv") in lanes beside the attention column ([[drawing, edge]], and the
// free edges left for the router: any other, and those of the cache that do not fit in a lane)
function inLanes(doc, free) {
  const kv = free.filter((e) => /class="kv"/.test(e.a));
  if (!kv.length) return [[], free];
  const { boxes, texts } = boxesOf(doc);
  // between two boxes: an edge into a group open in place has lost its port on that side (openInGraph)
  // and runs to a node inside, never beside the column: the router's
  const known = kv.filter((e) => /tailport=/.test(e.a) && /headport=/.test(e.a) && boxes.has(e.tail) && boxes.has(e.head));
  const { paths, labels } = plan(boxes, known.map((e) => [e.tail, e.head]), texts);
  const laned = [], counted = new Set();
  known.forEach((e, k) => {
    if (!paths[k]) return;
    const drawn = asEdge(paths[k], widthOf(e));
    if (!counted.has(e.tail)) { counted.add(e.tail); drawn._ldraw_ = [{ op: "T", pt: labels.get(e.tail), text: labels.get(e.tail)[2] }]; }
    laned.push([drawn, e, paths[k]]);
  });
  return [laned, free.filter((e) => !laned.some(([, l]) => l === e))];
}

const widthOf = (e) => {
  const line = e.item && e.item.shapes.find((s) => "bB".includes(s[0]));
  return +((line && / stroke-width="([^"]*)"/.exec(line[1])) || [0, 1])[1];
};
// the free edges the lanes left, in right angles around the boxes (router.js): [[drawing, edge]], and
// those it found no way for, for Graphviz's router
function inRightAngles(G, doc, free, laned) {
  if (!free.length) return [[], free];
  const { boxes } = boxesOf(doc), texts = labelsOf(G, doc), hidden = new Set((doc.objects || []).filter((o) => o.style === "invis").map((o) => o.name));
  for (const n of hidden) boxes.delete(n);
  const ok = free.filter((e) => boxes.has(e.tail) && boxes.has(e.head) && e.tail !== e.head);
  const tapped = new Map(), taken = laned.map(([, , path]) => path);
  for (const [, e, path] of laned) tapped.set(e.head, Math.min(tapped.get(e.head) ?? Infinity, path[path.length - 1][0]));
  const paths = route(boxes, texts, ok.map((e) => [e.tail, e.head]), tapped, taken);
  const drawn = ok.flatMap((e, k) => (paths[k] ? [[asEdge(paths[k], widthOf(e)), e]] : []));
  return [drawn, free.filter((e) => !drawn.some(([, d]) => d === e))];
}

// the clusters' labels where the page draws them (at the same place in their outline as in the view
// as written, `refit`), in dot's coordinates, as wide as a browser's font makes them (0.62 em a letter)
function labelsOf(G, doc) {
  const out = [];
  for (const o of doc.objects || []) {
    const k = o.bb && G.clusters.get(o.name), item = k && k.item;
    if (!item) continue;
    const [x0, , x1, y1] = o.bb.split(",").map(Number), [dx, dy] = labelShift(item, k.a, x0, -y1, x1 - x0);
    for (const [kind, font, x, y, anchor, text] of item.shapes) if (kind === "t") {
      const size = +(/font-size="([^"]*)"/.exec(font) || [0, 11])[1], w = 0.62 * size * String(text).length;
      const left = x + dx - ((anchor + 1) * w) / 2, base = -(y + dy);
      out.push([left, base - 0.25 * size, left + w, base + 0.8 * size]);
    }
  }
  return out;
}

// G laid out by dot, as a model the page draws (draw.js), or null when Graphviz fails on it; the
// view's title (in `base`, its drawing as written) stays where it was
export async function relaidOut(G, base) {
  const gv = await layoutEngine();
  const free = G.edges.filter((e) => !placing(G, e));
  let doc, lines;
  try {
    const t0 = performance.now();
    doc = JSON.parse(gv.layout(toDot(G), "json", "dot"));
    const t1 = performance.now(), main = G.edges.filter((e) => placing(G, e));
    const [laned, unlaned] = inLanes(doc, free), [angled, rest] = inRightAngles(G, doc, unlaned, laned);
    lines = [...(doc.edges || []).map((e, k) => [e, main[k]]), ...laned, ...angled, ...(rest.length ? routed(gv, doc, rest) : []).map((e, k) => [e, rest[k]])];
    // where the time goes, for bench/bench_explore.py: dot, then the router of the free edges
    Object.assign(document.body.dataset, { relayoutDotMs: (t1 - t0).toFixed(1), relayoutRouteMs: (performance.now() - t1).toFixed(1) });
  } catch (e) {
    say(`Graphviz could not lay this out (${String(e.message || e).slice(0, 80)}): opening the group on its own`);
    return null;
  }
  const pad = 72 * parseFloat((/pad="([^"]*)"/.exec(G.attrs) || [0, "0.0555"])[1]);
  const [bx0, by0, bx1, by1] = doc.bb.split(",").map(Number);
  const title = base.items.find((it) => it.kind === "graph");
  const top = Math.max(pad, title ? extent(title.shapes)[3] + 8 : 0); // below the view's title, which stays
  const at = (x, y) => [Math.round(x - bx0 + pad), Math.round(by1 - y + top)];
  const items = title ? [title] : [], nodes = [], edges = [];
  const objects = doc.objects || [];
  const clusters = objects.filter((o) => G.clusters.has(o.name) && o.bb);
  clusters.sort((a, b) => depth(G, a.name) - depth(G, b.name)); // outer clusters under inner ones
  for (const o of clusters) {
    const k = G.clusters.get(o.name), [x0, y0, x1, y1] = o.bb.split(",").map(Number), [ax, ay] = at(x0, y1), [cx, cy] = at(x1, y0);
    items.push(refit(k.item, k.title, k.a, ax, ay, cx - ax, cy - ay));
  }
  for (const o of objects) if (G.nodes.has(o.name) && o.pos && G.nodes.get(o.name).item) {
    const [x, y] = at(...o.pos.split(",").map(Number)), it = G.nodes.get(o.name).item, [a, b, c, d] = extent([it.shapes[0]]);
    const dx = Math.round(x - (a + c) / 2), dy = Math.round(y - (b + d) / 2);
    nodes.push({ ...it, shapes: it.shapes.map((s) => moveShape(s, () => [dx, dy])) });
  }
  for (const [e, src] of lines) {
    if (!src || !src.item) continue;
    const paint = (kinds) => src.item.shapes.find((s) => kinds.includes(s[0]))?.[1] || src.item.shapes[0][1];
    const shapes = [];
    for (const op of [...(e._draw_ || []), ...(e._tdraw_ || []), ...(e._hdraw_ || [])]) {
      const pts = (op.points || []).flatMap(([x, y]) => at(x, y));
      if (op.op === "b" || op.op === "B") shapes.push(["b", paint("bB"), ...pts]);
      else if (op.op === "P" || op.op === "p") shapes.push(["p", paint("p"), ...pts]);
    }
    for (const op of e._ldraw_ || []) { // a bundle's count, in the colour of its line
      const ink = (/ stroke="([^"]*)"/.exec(paint("bB")) || [0, "#000000"])[1];
      shapes.push(["t", src.item.shapes.find((s) => s[0] === "t")?.[1] || ` font-size="9" fill="${ink}"`, ...at(op.pt[0], op.pt[1]), -1, op.text]);
    }
    edges.push({ kind: "edge", title: src.title, shapes });
  }
  items.push(...edges, ...nodes);
  const [, , tx] = title ? extent(title.shapes) : [0, 0, 0];
  return { w: Math.max(Math.round(bx1 - bx0 + 2 * pad), Math.round(tx + pad)), h: Math.round(by1 - by0 + pad + top), bg: base.bg, items };
}
function depth(G, c) {
  let d = 0;
  for (let k = G.clusters.get(c).up; k; k = G.clusters.get(k).up) d++;
  return d;
}
// a cluster (or a frame) drawn at its new extent: its outline resized, its label kept at the top left
function refit(item, title, a, x, y, w, h) {
  const it = item || { kind: "cluster", title, shapes: [["r", ` fill="none" stroke="#b8b8b8"`, 0, 0, 0, 0, 4]] };
  const shift = labelShift(it, a, x, y, w);
  return { ...it, shapes: it.shapes.map((s, k) => {
    if (k === 0) return ["r", s[1], x, y, w, h, s[0] === "r" ? s[6] : 4];
    return moveShape(s, () => shift);
  }) };
}
// how far a cluster's label moves when its outline is drawn at x, y, w wide: kept at its top left, or
// at its top right for a label justified right (labeljust="r": the heads' names, out of the taps' way)
function labelShift(item, a, x, y, w) {
  const [ox, oy, ox1] = extent([item.shapes[0]]);
  return /labeljust="r"/.test(a || "") ? [x + w - ox1, y - oy] : [x - ox, y - oy];
}

// the drawing moves from where it was (`before`) to where it is now: every box and cluster that was
// already there slides from its old place, what is new fades in (nothing moves for a reader who asked
// for reduced motion)
const MOVE_MS = 250;
export function animateFrom(before) {
  if (!before || before === S.model || matchMedia("(prefers-reduced-motion: reduce)").matches) return;
  const old = new Map();
  for (const it of before.items) if (it.title !== null && it.kind !== "edge") old.set(it.title, extent([it.shapes[0]]));
  const timing = { duration: MOVE_MS, easing: "ease-out" };
  for (const it of S.model.items) {
    const g = it.title !== null && S.items.get(it.kind === "edge" ? it.title.replace(/:[nsewc]{1,2}(?=->|$)/g, "") : it.title);
    if (!g) continue;
    const was = it.kind !== "edge" && old.get(it.title);
    if (!was) { g.animate([{ opacity: 0 }, { opacity: 1 }], timing); continue; }
    const [a, b] = extent([it.shapes[0]]);
    if (was[0] !== a || was[1] !== b) g.animate([{ transform: `translate(${was[0] - a}px, ${was[1] - b}px)` }, { transform: "none" }], timing);
  }
}
