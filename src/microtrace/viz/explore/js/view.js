// The page's state (S) and the view on screen: opening a view (open), putting its drawing into the page
// (place, redraw), breadcrumbs, the list of a group too large to draw, what a click means, selection.
// --- state ------------------------------------------------------------------------------------------
const S = { view: -1, data: null, model: null, items: new Map(), sel: null, t: END, playing: false, hl: [], colour: "grad", cam: { x: 0, y: 0, k: 1 } };
const stage = $("#stage"), canvas = $("#canvas"), list = $("#list");

// --- opening a view ---------------------------------------------------------------------------------
async function open(i, opts = {}) {
  const from = opts.from;
  const t0 = performance.now();
  if (from && S.view >= 0) await zoomInto(from);
  const data = await payload(i);
  S.view = i;
  S.data = data;
  S.items = new Map();
  const kind = INDEX.views[i].kind;
  stage.className = kind;
  list.hidden = kind !== "list";
  stage.hidden = kind === "list";
  opened.length = 0;
  if (data.layout) {
    S.model = decode(data.layout);
    place();
    fit();
  } else {
    stage.innerHTML = "";
    renderList(data);
  }
  stage.classList.remove("zooming");
  crumbs();
  applyColour();
  applyPaths();
  applyPlayer(true);
  select(opts.select !== undefined ? opts.select : null);
  if (opts.select !== undefined && opts.select !== null) centerOn(opts.select);
  document.body.dataset.ready = String(i);
  document.body.dataset.opens = String(+(document.body.dataset.opens || 0) + 1);
  document.body.dataset.openMs = (performance.now() - t0).toFixed(1);
  saveHash();
}

// the current drawing into the page, its items named (and the groups open in place marked)
function place() {
  stage.innerHTML = render(S.model);
  S.items = new Map();
  for (const g of stage.querySelectorAll("g.node, g.cluster, g.edge")) {
    const title = g.querySelector("title");
    // edge titles may carry ports (a:e->b:e); items are named without them
    if (title) S.items.set(g.classList.contains("edge") ? title.textContent.replace(/:[nsewc]{1,2}(?=->|$)/g, "") : title.textContent, g);
  }
  for (const o of opened) S.items.get(o.name)?.classList.add("opened");
}
// ... with colours, paths, player and selection applied again
function redraw() {
  place();
  applyColour();
  applyPaths();
  applyPlayer(true);
  const sel = S.sel;
  if (sel !== null && sel !== undefined) S.items.get(typeof sel === "number" ? "n" + sel : sel)?.classList.add("sel");
}

function crumbs() {
  const chain = [];
  for (let i = S.view; i !== null && i !== undefined; i = INDEX.views[i].parent) chain.unshift(i);
  $("#crumbs").innerHTML = chain
    .map((i, k) => (k === chain.length - 1 ? `<b>${esc(INDEX.views[i].label)}</b>` : `<a data-view="${i}">${esc(INDEX.views[i].label)}</a>`))
    .join('<span class="sep">›</span>');
}
$("#crumbs").addEventListener("click", (e) => {
  const a = e.target.closest("a[data-view]");
  if (a) open(+a.dataset.view);
});

// a group too large to draw: its sub-groups, or every node as a table
function renderList(data) {
  const v = INDEX.views[S.view];
  const rows = data.parts
    .map((p) => `<tr><td><a data-view="${p.view}">${esc(p.label)}</a></td><td>${p.count}</td><td>${esc(show(p.grad_norm))}</td><td>${p.zero_grad}</td><td>${p.nonfinite}</td></tr>`)
    .join("");
  list.innerHTML =
    `<h3>${esc(v.label)}: ${v.stats.count} nodes, more than the ${META.limit} a diagram shows well</h3>` +
    `<p>Open one of its ${data.parts.length} sub-groups, or <a id="as-table">show all its nodes as a table</a>.</p>` +
    `<table><tr><th>sub-group</th><th>nodes</th><th>‖grad‖</th><th>zero grad</th><th>nan/inf</th></tr>${rows}</table>`;
}
list.addEventListener("click", async (e) => {
  const a = e.target.closest("a[data-view]");
  if (a) return open(+a.dataset.view);
  if (e.target.id === "as-table") {
    const parts = await Promise.all(S.data.parts.map((p) => payload(p.view)));
    const rows = [];
    for (const p of parts) for (const [id, r] of Object.entries(p.nodes)) rows.push(`<tr><td><a data-node="${id}">#${id}</a></td><td>${esc(r.op)}</td><td>${esc(show(T.data[id]))}</td><td>${esc(show(T.grad[id]))}</td><td>${esc(r.scope)}</td></tr>`);
    list.innerHTML = `<h3>${esc(INDEX.views[S.view].label)}: every node</h3><table><tr><th>node</th><th>op</th><th>data</th><th>grad</th><th>scope</th></tr>${rows.join("")}</table>`;
  }
  const n = e.target.closest("a[data-node]");
  if (n) goNode(+n.dataset.node);
});

// --- items: what a click means ----------------------------------------------------------------------
function itemOf(el) {
  const g = el.closest("g.node, g.edge, g.cluster");
  if (!g) return null;
  const t = g.querySelector("title").textContent;
  return g.classList.contains("edge") ? t.replace(/:[nsewc]{1,2}(?=->|$)/g, "") : t;
}
function openKey(name) {
  // the view a group (its scope) or a cluster (cluster_<scope>) opens
  if (name.startsWith("cluster_")) name = name.slice(8);
  const it = S.data.items && S.data.items[name];
  if (it && it.open !== null && it.open !== undefined) return it.open;
  return S.data.clusters && S.data.clusters[name] !== undefined ? S.data.clusters[name] : viewOf.get(name);
}
stage.addEventListener("click", (e) => {
  if (moved > 6) return;
  const name = itemOf(e.target);
  if (name && name !== "legend") select(name);
});
stage.addEventListener("dblclick", async (e) => {
  // a group or a cluster opens in place (and closes again); one with no drawing inside dives
  const name = itemOf(e.target);
  if (!name) return;
  const how = collapse(name) || (await expand(name));
  const i = openKey(name);
  if (how === "same" || (!how && i === S.view)) say(`${INDEX.views[i].label}: its inside is what is drawn here (double-click one of its boxes to open it)`);
  else if (!how && i !== undefined) open(i, { from: S.items.get(name) });
});

function select(name) {
  for (const g of stage.querySelectorAll(".sel")) g.classList.remove("sel");
  S.sel = name;
  if (name !== null && name !== undefined) {
    const key = typeof name === "number" ? "n" + name : name;
    const g = S.items.get(key);
    if (g) g.classList.add("sel");
  }
  inspect();
  saveHash();
}
