// Opening a group in place: the group's box becomes a frame that holds its inside (the view it opens:
// its stages, heads or scalars), and the whole drawing is laid out again by Graphviz (relayout.js), so
// nothing overlaps and every edge that crossed the group's outline runs to the inner nodes it really
// touches. A cluster opens the same way: the boxes drawn in it give way to its own inside. Closing a
// group lays out what stays open; with nothing open the drawing is the one the page was written with.
// S.opened: the groups open in place, in the order they were opened ({name, view}).
import { INDEX, T, operands, payload, users } from "./data.js";
import { S, setDrawing } from "./state.js";
import { openKey, place } from "./view.js";
import { animateFrom, graphOf, layoutEngine, relaidOut } from "./relayout.js";

// the view as written (its drawing, data and graph) and the graph on screen, made when a view's first
// group opens
let base = null, graph = null;
export async function expand(name) {
  const i = openKey(name), cluster = name.startsWith("cluster_");
  if (i === undefined || i === S.view || INDEX.views[i].kind === "list" || !S.items.has(name)) return false;
  if (!S.opened.length) {
    base = { view: S.view, model: S.model, data: S.data };
    graph = S.data.layout && S.data.layout.dot ? graphOf(S.data.layout.dot, S.model) : null;
  }
  const inner = await payload(i);
  if (!inner.layout || !inner.layout.dot || !graph) return false;
  const G = graph, key = cluster ? name.slice(8) : name;
  const inside = insideOf(inner, key);
  if (!inside.nodes.length) return false;
  // a cluster whose inside is the very boxes drawn in it: nothing to open (the caller says so)
  if (cluster && inside.nodes.every((n) => G.nodes.has(n))) return "same";
  if (!(await layoutEngine())) return false; // no WebAssembly here: the caller dives into the group instead
  let records = S.opened;
  for (const o of records.filter((o) => o.name !== name && G.owner(o.name, name))) records = without(records, o); // opened inside the cluster: closes first
  return showOpened([...records, { name, view: i }]);
}
export function collapse(name) {
  const o = S.opened.find((o) => o.name === name);
  if (!o) return false;
  showOpened(without(S.opened, o));
  return true;
}
// the groups open but `o`, and those opened inside it
function without(records, o) {
  const gone = new Set([o.name]);
  for (const p of records) if (gone.has(graph.introduced.get(p.name))) gone.add(p.name);
  return records.filter((p) => !gone.has(p.name));
}
// What opens inside a group (`key`: its scope path) from the view it opens: its scalars (n123, o123,
// their invisible anchors) or its sub-groups and their clusters; not the inner view's title, legend,
// stubs of its neighbours, parameter matrices, nor the cluster the frame replaces.
function insideOf(inner, key) {
  const sk = inner.layout.dot;
  const within = (t) => (t.startsWith("anchor#") ? within(t.slice(7)) : /^[no]\d+$/.test(t) || t.replace(/^cluster_(s_)?/, "").startsWith(key + "/"));
  return { within, nodes: sk.n.map((n) => n[0]).filter((t) => within(t) && !t.startsWith("anchor#")) };
}

// The drawing of the view with the groups `records` open, laid out again; the old one animates into it.
// False when Graphviz could not lay it out (the caller dives into the group instead).
let showing = Promise.resolve();
function showOpened(records) {
  showing = showing.then(async () => {
    const before = S.model, t0 = performance.now();
    const { graph: G, data } = await composed(records);
    const t1 = performance.now();
    const model = records.length ? await relaidOut(G, base.model) : base.model;
    if (!model || S.view !== base.view) return false;
    const t2 = performance.now();
    graph = G;
    setDrawing(model, records.length ? data : base.data, records);
    place();
    animateFrom(before);
    const t3 = performance.now();
    // what bench/bench_explore.py reads: the whole, and its parts (the graph composed, laid out, drawn)
    Object.assign(document.body.dataset, { relayoutComposeMs: (t1 - t0).toFixed(1), relayoutLayoutMs: (t2 - t1).toFixed(1), relayoutDrawMs: (t3 - t2).toFixed(1) });
    document.body.dataset.relayoutMs = (t3 - t0).toFixed(1);
    return true;
  });
  return showing;
}
// The graph (relayout.js) and the data of the view with `records` opened one after the other: each
// group's edges to the rest are counted from the state before it opened, so any combination of open
// groups gives the same drawing whatever was opened or closed before.
async function composed(records) {
  const G = graphOf(base.data.layout.dot, base.model);
  let data = base.data;
  for (const o of records) {
    const inner = await payload(o.view), key = o.name.startsWith("cluster_") ? o.name.slice(8) : o.name;
    const members = G.membersOf(o.name);
    const cross = crossings(G, data, new Set(members), inner, insideOf(inner, key));
    const parts = G.open(o.name, inner, insideOf(inner, key).within, cross);
    const merge = (k) => (data[k] || inner[k] ? { ...(data[k] || {}), ...(inner[k] || {}) } : undefined);
    data = { ...data, groupOf: undefined, items: merge("items"), edges: { ...merge("edges"), ...parts }, nodes: merge("nodes"), clusters: merge("clusters"), members: merge("members"), cmp: merge("cmp") };
  }
  return { graph: G, data };
}
// Of the elementary edges between the group's boxes (`members`) and the rest of the drawing, by the
// drawn edge ("a->member" or "member->b") they belong to: the inner node each touches (an operation's
// ellipse where it has one, a value box, or a sub-group) and how many touch it.
function crossings(G, data, members, inner, inside) {
  const names = new Set(inside.nodes), stageGroup = new Map();
  for (const [g, stages] of Object.entries(inner.members || {})) if (names.has(g)) for (const s of stages) stageGroup.set(s, g);
  const innerOf = (n, into) => {
    if (!inner.nodes) return stageGroup.get(T.nodeScope[n]);
    return into && names.has("o" + n) ? "o" + n : names.has("n" + n) ? "n" + n : undefined;
  };
  const groupOf = new Map();
  for (const [g, stages] of Object.entries(data.members || {})) for (const s of stages) groupOf.set(s, g);
  const drawn = (n) => (G.nodes.has("n" + n) ? "n" + n : G.nodes.has(groupOf.get(T.nodeScope[n])) ? groupOf.get(T.nodeScope[n]) : null);
  const out = new Map();
  const add = (key, end) => {
    if (end === undefined) return;
    if (!out.has(key)) out.set(key, new Map());
    out.get(key).set(end, (out.get(key).get(end) || 0) + 1);
  };
  for (const m of members) {
    const range = data.items && data.items[m] && data.items[m].range;
    if (range) for (let v = range[0]; v <= range[1]; v++) {
      if (drawn(v) !== m) continue;
      for (const [u] of operands(v)) { const o = drawn(u); if (o && !members.has(o)) add(`${o}->${m}`, innerOf(v, true)); }
      for (const [w] of users(v)) { const o = drawn(w); if (o && !members.has(o)) add(`${m}->${o}`, innerOf(v, false)); }
    }
  }
  return out;
}
