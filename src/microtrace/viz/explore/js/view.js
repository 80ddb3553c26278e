// The view on screen: opening a view (open), putting its drawing into the page (place), the breadcrumbs,
// the list of a group too large to draw, what an item's name opens (openKey), and selection (select).
import { $, esc, list, nodeLink, stage } from "./dom.js";
import { INDEX, META, T, payload, figure, viewOf } from "./data.js";
import { S, drawn, on, setSel, setView } from "./state.js";
import { decode, render } from "./draw.js";
import { centerOn, fit, zoomInto } from "./camera.js";

// --- opening a view ---------------------------------------------------------------------------------
export async function open(i, opts = {}) {
  const from = opts.from;
  const t0 = performance.now();
  if (from && S.view >= 0) await zoomInto(from);
  const data = await payload(i);
  const kind = INDEX.views[i].kind;
  setView(i, data, data.layout ? decode(data.layout) : null);
  stage.className = kind;
  list.hidden = kind !== "list";
  stage.hidden = kind === "list";
  if (data.layout) {
    place();
    fit();
  } else {
    stage.innerHTML = "";
    renderList(data);
    drawn(new Map());
  }
  stage.classList.remove("zooming");
  crumbs();
  select(opts.select !== undefined ? opts.select : null);
  if (opts.select !== undefined && opts.select !== null) centerOn(opts.select);
  document.body.dataset.ready = String(i);
  document.body.dataset.opens = String(+(document.body.dataset.opens || 0) + 1);
  document.body.dataset.openMs = (performance.now() - t0).toFixed(1);
}

// the current drawing into the page, its items named (and the groups open in place marked)
export function place() {
  stage.innerHTML = render(S.model);
  const items = new Map();
  for (const g of stage.querySelectorAll("g.node, g.cluster, g.edge")) {
    const title = g.querySelector("title");
    if (title) items.set(nameOf(g), g);
  }
  for (const o of S.opened) items.get(o.name)?.classList.add("opened");
  drawn(items);
}
// an item's name: its SVG title; an edge's without the ports dot drew it to (a:e->b:e is a->b)
const nameOf = (g) => {
  const t = g.querySelector("title").textContent;
  return g.classList.contains("edge") ? t.replace(/:[nsewc]{1,2}(?=->|$)/g, "") : t;
};
export function itemOf(el) {
  const g = el.closest("#stage g.node, #stage g.edge, #stage g.cluster");
  return g && g.querySelector("title") ? nameOf(g) : null;
}
export const itemEl = (name) => S.items.get(typeof name === "number" ? "n" + name : name);

function crumbs() {
  const chain = [];
  for (let i = S.view; i !== null && i !== undefined; i = INDEX.views[i].parent) chain.unshift(i);
  $("#crumbs").innerHTML = chain
    .map((i, k) => (k === chain.length - 1 ? `<b>${esc(INDEX.views[i].label)}</b>` : `<a href="#" data-view="${i}">${esc(INDEX.views[i].label)}</a>`))
    .join('<span class="sep">›</span>');
}

// a group too large to draw: its sub-groups, or every node as a table
function renderList(data) {
  const v = INDEX.views[S.view];
  const rows = data.parts
    .map((p) => `<tr><td><a href="#" data-view="${p.view}">${esc(p.label)}</a></td><td>${p.count}</td><td>${figure(p.grad_norm)}</td><td>${p.zero_grad}</td><td>${p.nonfinite}</td></tr>`)
    .join("");
  list.innerHTML =
    `<h3>${esc(v.label)}: ${v.stats.count} nodes, more than the ${META.limit} a diagram shows well</h3>` +
    `<p>Open one of its ${data.parts.length} sub-groups, or <a href="#" id="as-table">show all its nodes as a table</a>.</p>` +
    `<table><tr><th>sub-group</th><th>nodes</th><th>‖grad‖</th><th>zero grad</th><th>nan/inf</th></tr>${rows}</table>`;
}
export async function renderTable() {
  const parts = await Promise.all(S.data.parts.map((p) => payload(p.view)));
  const rows = [];
  for (const p of parts) for (const [id, r] of Object.entries(p.nodes)) rows.push(`<tr><td>${nodeLink(id)}</td><td>${esc(r.op)}</td><td>${figure(T.data[id])}</td><td>${figure(T.grad[id])}</td><td>${esc(r.scope)}</td></tr>`);
  list.innerHTML = `<h3>${esc(INDEX.views[S.view].label)}: every node</h3><table><tr><th>node</th><th>op</th><th>data</th><th>grad</th><th>scope</th></tr>${rows.join("")}</table>`;
}

// --- items: what a name opens, what holds a node ----------------------------------------------------
export function openKey(name) {
  // the view a group (its scope) or a cluster (cluster_<scope>) opens
  if (name.startsWith("cluster_")) name = name.slice(8);
  const it = S.data.items && S.data.items[name];
  if (it && it.open !== null && it.open !== undefined) return it.open;
  return S.data.clusters && S.data.clusters[name] !== undefined ? S.data.clusters[name] : viewOf.get(name);
}
// the item of the current view that holds scalar node n: itself, or the group its stage is in (the
// view's own membership: a script's groups are not scope path prefixes)
const groupOf = new WeakMap(); // a view's data -> stage -> group, made when first asked
export function itemOfNode(n) {
  if (S.items.has("n" + n) || !S.data.items) return S.items.has("n" + n) ? "n" + n : null;
  if (!groupOf.has(S.data)) {
    const m = new Map();
    for (const [g, stages] of Object.entries(S.data.members || {})) for (const s of stages) m.set(s, g);
    groupOf.set(S.data, m);
  }
  const g = groupOf.get(S.data).get(T.nodeScope[n]);
  return g !== undefined && S.items.has(g) ? g : null;
}

// --- selection: one item, outlined, its numbers in the inspector ------------------------------------
export function select(name) {
  setSel(name);
}
function markSelection() {
  for (const g of stage.querySelectorAll(".sel")) g.classList.remove("sel");
  if (S.sel !== null) itemEl(S.sel)?.classList.add("sel");
}
on("sel", markSelection);
on("drawn", markSelection);
