// The inspector (the selected node's, edge's or group's numbers, all from the trace) and the top
// gradient paths from a node to the loss (the tracer's path_links), highlighted at any level.
import { $, esc, nodeLink, stage } from "./dom.js";
import { INDEX, K, T, operands, figure, users } from "./data.js";
import { S, on, setPaths } from "./state.js";
import { itemEl, itemOfNode, open, openKey } from "./view.js";
import { goNode } from "./search.js";

const row = (k, v, key) => `<tr><th>${esc(k)}</th><td${key ? ` data-key="${key}"` : ""}>${v}</td></tr>`;
const GROUP = ["count", "grad_norm", "grad_abs_sum", "grad_abs_max", "data_norm", "data_abs_max", "zero_grad", "nonfinite"];

export function inspect() {
  const box = $("#inspector");
  const v = INDEX.views[S.view], sel = S.sel;
  let html = "";
  const id = scalarId(sel);
  if (id !== null && S.data.nodes && S.data.nodes[id]) {
    html = inspectNode(id, S.data.nodes[id]);
  } else if (sel && sel.includes("->")) {
    html = inspectEdge(sel);
  } else if (sel && S.data.items && S.data.items[sel]) {
    html = inspectGroup(sel, S.data.items[sel], openKey(sel));
  } else if (sel && sel.startsWith("cluster_") && openKey(sel) !== undefined) {
    const i = openKey(sel);
    html = inspectGroup(INDEX.views[i].key, INDEX.views[i].stats, i);
  } else {
    html = inspectGroup(v.label, v.stats, null);
  }
  box.innerHTML = html;
}
export function scalarId(sel) {
  if (typeof sel === "number") return sel;
  const m = /^[no](\d+)$/.exec(sel || "");
  return m ? +m[1] : null;
}
function inspectGroup(name, st, opens) {
  let h = `<h3>${esc(name)}</h3>`;
  if (opens !== null && opens !== undefined && opens !== S.view) h += `<button class="open" data-open="${opens}">open ▸</button>`;
  h += "<table>" + GROUP.filter((k) => k in st).map((k) => row(k, figure(st[k]), k)).join("");
  if (st.ops) h += row("ops", esc(Object.entries(st.ops).map(([o, c]) => `${o} ${c}`).join(", ")), "ops");
  h += row("nodes", `${nodeLink(st.range[0])} … ${nodeLink(st.range[1])}`) + "</table>";
  if (st.top !== undefined) {
    h += `<h3>where its gradient comes from</h3><p>from its largest |grad| node ${nodeLink(st.top)}, the top ${K} paths to the loss: `;
    h += [...Array(K).keys()].filter((r) => T.links[st.top * K + r] >= 0).map((r) => `<a href="#" data-gpath="${st.top},${r}">${r + 1}</a>`).join(" · ");
    h += ` · <a href="#" data-gpath="${st.top},all">all</a> · <a href="#" data-path="none">clear</a></p>`;
  }
  const c = S.data.cmp && S.data.cmp[name];
  if (c) h += compareRows(c, "‖grad‖", "‖value‖");
  return h;
}
function inspectEdge(name) {
  const [u, v] = name.split("->");
  const e = S.data.edges && S.data.edges[name];
  if (e) return `<h3>${esc(u)} → ${esc(v)}</h3><table>${Object.entries(e).map(([k, x]) => row(k, figure(x), k)).join("")}</table>`;
  const a = scalarId(u), b = scalarId(v);
  const ed = a !== null && b !== null && operands(b).find((x) => x[0] === a);
  if (!ed) return `<h3>${esc(u)} → ${esc(v)}</h3><p>an edge to or from the rest of the graph, or from an operation to its result</p>`;
  return `<h3>edge ${nodeLink(a)} → ${nodeLink(b)}</h3><table>${row("local_grad", figure(ed[1]), "local_grad")}${row("grad_flow", figure(ed[2]), "grad_flow")}${ed[3] ? row("multiplicity", ed[3]) : ""}</table>`;
}
function inspectNode(id, r) {
  let h = `<h3>node #${id}</h3><table>${row("op", esc(r.op), "op")}${row("data", figure(T.data[id]), "data")}${row("grad", figure(T.grad[id]), "grad")}`;
  for (const [k, v] of Object.entries(r)) {
    if (k === "op" || k === "paths") continue;
    h += row(k, Array.isArray(v) ? esc(v.join(", ")) : figure(v), k);
  }
  h += "</table>";
  const edges = (list, dir) => list.map((e) => `<tr><td>${nodeLink(e[0])}${e[3] ? ` ×${e[3]}` : ""}</td><td data-local="${dir}${e[0]}">${figure(e[1])}</td><td data-flow="${dir}${e[0]}">${figure(e[2])}</td></tr>`).join("");
  const ins = operands(id), outs = users(id);
  const head = "<tr><th>node</th><th>local_grad</th><th>grad_flow</th></tr>";
  if (ins.length) h += `<h3>operands (${ins.length})</h3><table class="edges">${head}${edges(ins, "in")}</table>`;
  if (outs.length) h += `<h3>used by (${outs.length})</h3><table class="edges">${head}${edges(outs, "out")}</table>`;
  const c = S.data.cmp && S.data.cmp["n" + id];
  if (c) h += compareRows(c, "|grad|", "|data|") + `<table>${row("other data", figure(c[5]))}${row("other grad", figure(c[6]))}</table>`;
  if (r.paths.length) {
    h += `<h3>where its gradient comes from: top ${r.paths.length} paths to the loss</h3><ol id="paths">`;
    r.paths.forEach((c, k) => {
      const p = pathFrom(id, k);
      h += `<li><a href="#" data-path="${k}">contribution ${figure(c)}</a>, ${p.length - 1} steps</li>`;
    });
    h += `</ol><a href="#" data-path="all">highlight all</a> · <a href="#" data-path="none">clear</a>`;
  }
  return h;
}
function compareRows(c, g, v) {
  return `<h3>compared</h3><table>${row(`${g} other / this`, figure(c[3]), "ratio")}${row(`${v} other / this`, figure(c[4]))}</table>`;
}
// --- top gradient paths: the tracer's path_links, followed from the selected node ----------------------
export function pathFrom(n, rank) {
  const path = [n];
  for (let link = T.links[n * K + rank]; link >= 0; link = T.links[n * K + rank]) {
    n = link >> 3;
    rank = link & 7;
    path.push(n);
  }
  return path;
}
function applyPaths() {
  for (const g of stage.querySelectorAll(".hl")) g.classList.remove("hl");
  if (!S.data || !S.data.layout) return;
  for (const path of S.hl) {
    let prev = null;
    for (const n of path) {
      if (S.data.nodes && S.items.has("o" + n)) {
        S.items.get("o" + n).classList.add("hl");
        if (prev !== null) mark(`n${prev}->o${n}`);
        mark(`o${n}->n${n}`);
      }
      const it = itemOfNode(n);
      if (it) {
        S.items.get(it).classList.add("hl");
        if (prev !== null && !S.data.nodes && it !== prev) mark(`${prev}->${it}`);
      }
      prev = S.data.nodes ? n : it || prev;
    }
  }
}
const mark = (name) => S.items.has(name) && S.items.get(name).classList.add("hl");
// the inspector's links: open the group, go to a node, highlight paths
$("#inspector").addEventListener("click", (e) => {
  const a = e.target.closest("[data-open], a[data-node], a[data-gpath], a[data-path]");
  if (!a) return;
  e.preventDefault();
  if (a.dataset.open !== undefined) return open(+a.dataset.open, { from: itemEl(S.sel) });
  if (a.dataset.node !== undefined) return goNode(+a.dataset.node);
  if (a.dataset.gpath !== undefined) {
    const [n, r] = a.dataset.gpath.split(",");
    const ranks = r === "all" ? [...Array(K).keys()].filter((k) => T.links[+n * K + k] >= 0) : [+r];
    return setPaths(ranks.map((k) => pathFrom(+n, k)));
  }
  const id = scalarId(S.sel), k = a.dataset.path;
  const ks = k === "none" ? [] : k === "all" ? [...Array(S.data.nodes[id].paths.length).keys()] : [+k];
  setPaths(ks.map((r) => pathFrom(id, r)));
});
on("sel", inspect);
on("drawn", applyPaths);
on("paths", applyPaths);
