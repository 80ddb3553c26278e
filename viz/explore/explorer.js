// The microtrace explorer: walk one traced step from the block view down to single scalars.
// Every view was laid out by Graphviz when the page was written (viz/explore/page.py); this code only
// unpacks the view that is opened, shows numbers the trace holds, and moves the camera and the player.
(() => {
  "use strict";
  const $ = (sel) => document.querySelector(sel);
  const INDEX = JSON.parse($("#index").textContent);
  const META = INDEX.meta, N = META.nodes, K = META.paths, END = 2 * N;
  const SPECIAL = { nan: NaN, inf: Infinity, "-inf": -Infinity }; // how page.py writes what JSON cannot
  const num = (v) => (typeof v === "string" && v in SPECIAL ? SPECIAL[v] : v);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const show = (v) => String(num(v)); // full precision: the shortest text that reads back as the same double
  const viewOf = new Map(INDEX.views.map((v, i) => [v.key, i]));

  // --- unpacking: the views wait gzipped until one is opened ---------------------
  async function unpack(b64) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }
  // views are packed CHUNK to a script element (<script id="c<k>">), one JSON line each (page.py)
  const chunks = new Map(), cache = new Map();
  async function payload(i) {
    if (!cache.has(i)) {
      const k = Math.floor(i / META.chunk);
      if (!chunks.has(k)) chunks.set(k, unpack(document.getElementById("c" + k).textContent).then((b) => new TextDecoder().decode(b).split("\n")));
      cache.set(i, JSON.parse((await chunks.get(k))[i % META.chunk]));
    }
    return cache.get(i);
  }
  let nodeView, nodeScope, links, T, fwd, bwd, fpos, bpos;
  const TYPES = { data: Float64Array, grad: Float64Array, local: Float64Array, flow: Float64Array };
  const tableNames = Object.keys(INDEX.tables);
  const packed = [INDEX.nodeView, INDEX.nodeScope, INDEX.links, ...INDEX.order, ...tableNames.map((k) => INDEX.tables[k])];
  const ready = Promise.all(packed.map(unpack)).then(([a, b, c, f, g, ...cols]) => {
    nodeView = new Int32Array(a);
    nodeScope = new Int32Array(b);
    links = new Int32Array(c);
    // the player's order (tracer/order.py): node at each position, and each node's position
    [fwd, bwd] = [new Int32Array(f), new Int32Array(g)];
    [fpos, bpos] = [new Int32Array(N), new Int32Array(N)];
    for (let i = 0; i < N; i++) { fpos[fwd[i]] = i; bpos[bwd[i]] = i; }
    T = {};
    tableNames.forEach((k, i) => (T[k] = new (TYPES[k] || Int32Array)(cols[i])));
  });
  // the edges of node n: [other node, local_grad, grad_flow, multiplicity]
  const edge = (i, other) => [other, T.local[i], T.flow[i], INDEX.mult[i]];
  function operands(n) {
    const out = [];
    for (let i = T.inStart[n]; i < T.inStart[n + 1]; i++) out.push(edge(i, T.eu[i]));
    return out;
  }
  function users(n) {
    const out = [];
    for (let j = T.outStart[n]; j < T.outStart[n + 1]; j++) {
      const i = T.outOrder[j];
      let v = 0, hi = N; // the result of edge i: the v with inStart[v] <= i < inStart[v + 1]
      while (hi - v > 1) { const mid = (v + hi) >> 1; if (T.inStart[mid] <= i) v = mid; else hi = mid; }
      out.push(edge(i, v));
    }
    return out;
  }

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

  // --- drawing: a view's shapes as SVG (viz/explore/layout.py says what each array holds) -------------
  const ANCHOR = { "-1": "start", 0: "middle", 1: "end" };
  // a view's layout as items of absolute shapes, each paint and font already its SVG attributes
  function decode(L) {
    const paint = L.paints.map(([stroke, fill, width, dash]) =>
      ` fill="${fill}" stroke="${stroke}"` + (width !== 1 ? ` stroke-width="${width}"` : "") + (dash ? ` stroke-dasharray="${dash}"` : ""));
    const font = L.fonts.map(([size, bold, ink]) => ` font-size="${size}" fill="${ink}"` + (bold ? ' font-weight="bold"' : ""));
    const items = L.items.map(([kind, title, ...shapes]) => {
      let x = 0, y = 0; // each point is given from the one before it within an item
      return { kind, title, shapes: shapes.map((s) => {
        const a = [s[0] === "b" && L.paints[s[1]][1] !== "none" ? "B" : s[0], (s[0] === "t" ? font : paint)[s[1]], ...s.slice(2)];
        const end = "ret".includes(a[0]) ? 4 : a.length;
        for (let i = 2; i < end; i += 2) { x = a[i] += x; y = a[i + 1] += y; }
        return a;
      }) };
    });
    return { w: L.w, h: L.h, bg: L.bg, items };
  }
  function shapeSvg(s) {
    const [t, p] = s;
    if (t === "r") return `<rect${p} x="${s[2]}" y="${s[3]}" width="${s[4]}" height="${s[5]}"${s[6] ? ` rx="${s[6]}"` : ""}/>`;
    if (t === "e") return `<ellipse${p} cx="${s[2]}" cy="${s[3]}" rx="${s[4]}" ry="${s[5]}"/>`;
    if (t === "t") return `<text${p} x="${s[2]}" y="${s[3]}"${s[4] !== -1 ? ` text-anchor="${ANCHOR[s[4]]}"` : ""}>${esc(s[5])}</text>`;
    const xy = [];
    for (let i = 2; i < s.length; i += 2) xy.push(`${s[i]} ${s[i + 1]}`);
    if (t === "b" || t === "B") return `<path${p} d="M${xy[0]}C${xy.slice(1).join(" ")}${t === "B" ? "Z" : ""}"/>`;
    return `<${t === "p" ? "polygon" : "polyline"}${p} points="${xy.join(" ")}"/>`;
  }
  function render(M) {
    const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${(M.w * 4) / 3}" height="${(M.h * 4) / 3}" viewBox="0 0 ${M.w} ${M.h}">`, `<rect width="${M.w}" height="${M.h}" fill="${M.bg}"/>`];
    for (const it of M.items) out.push(`<g class="${it.kind}">`, it.title === null ? "" : `<title>${esc(it.title)}</title>`, ...it.shapes.map(shapeSvg), "</g>");
    out.push("</svg>");
    return out.join("");
  }
  // the box of a list of shapes: [x0, y0, x1, y1]
  function extent(shapes) {
    const b = [Infinity, Infinity, -Infinity, -Infinity];
    const add = (x, y) => { b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y); b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y); };
    for (const s of shapes) {
      if (s[0] === "r") { add(s[2], s[3]); add(s[2] + s[4], s[3] + s[5]); }
      else if (s[0] === "e") { add(s[2] - s[4], s[3] - s[5]); add(s[2] + s[4], s[3] + s[5]); }
      else if (s[0] === "t") add(s[2], s[3]);
      else for (let i = 2; i < s.length; i += 2) add(s[i], s[i + 1]);
    }
    return b;
  }
  // every point of a shape moved by f(x, y) -> [dx, dy]; a box or an ellipse moves whole, by its centre
  function moveShape(s, f, corners) {
    if (s[0] === "r" && corners) {
      const [ax] = f(s[2], s[3]), [bx] = f(s[2] + s[4], s[3]), [, ay] = f(s[2], s[3]), [, by] = f(s[2], s[3] + s[5]);
      return ["r", s[1], s[2] + ax, s[3] + ay, s[4] + bx - ax, s[5] + by - ay, s[6]];
    }
    const out = s.slice();
    const end = "ret".includes(s[0]) ? 4 : s.length;
    for (let i = 2; i < end; i += 2) { const [dx, dy] = f(s[i], s[i + 1]); out[i] += dx; out[i + 1] += dy; }
    return out;
  }

  // --- opening a group in place: its box grows to hold its inside, the rest makes room ---------------
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

  function zoomInto(el) {
    // semantic zoom: the camera dives into the clicked group before its inside replaces the view
    const r = el.getBoundingClientRect(), c = canvas.getBoundingClientRect();
    const k = Math.min(c.width / r.width, c.height / r.height) * 0.8;
    const cam = S.cam, nk = Math.min(cam.k * k, cam.k * 8);
    const cx = r.left + r.width / 2 - c.left, cy = r.top + r.height / 2 - c.top;
    const f = nk / cam.k;
    stage.classList.add("zooming");
    setCam({ k: nk, x: c.width / 2 - (cx - cam.x) * f, y: c.height / 2 - (cy - cam.y) * f });
    return new Promise((res) => setTimeout(res, 120));
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

  // --- camera: pan and zoom with mouse, touch and keys --------------------------------------------------
  function setCam(c) {
    S.cam = c;
    stage.style.transform = `translate(${c.x}px, ${c.y}px) scale(${c.k})`;
  }
  function fit() {
    const svg = stage.querySelector("svg");
    if (!svg) return;
    const w = svg.width.baseVal.value, h = svg.height.baseVal.value, c = canvas.getBoundingClientRect();
    const k = Math.min(c.width / w, c.height / h, 1.5) * 0.97;
    // a tall column (a layer's 64 units) shrunk to fit would be unreadable: fit its width, start at the top
    const kw = Math.min(c.width / w, 1) * 0.97;
    if (k < 0.35 && kw > k) return setCam({ k: kw, x: (c.width - w * kw) / 2, y: 4 });
    setCam({ k, x: (c.width - w * k) / 2, y: Math.max(4, (c.height - h * k) / 2) });
  }
  function zoomAt(f, px, py) {
    const c = S.cam, k = Math.max(0.02, Math.min(40, c.k * f));
    setCam({ k, x: px - ((px - c.x) * k) / c.k, y: py - ((py - c.y) * k) / c.k });
  }
  function centerOn(name) {
    const g = S.items.get(typeof name === "number" ? "n" + name : name);
    if (!g) return;
    if (S.cam.k < 1) zoomAt(1 / S.cam.k, 0, 0); // close enough to read its numbers
    const r = g.getBoundingClientRect(), c = canvas.getBoundingClientRect();
    setCam({ ...S.cam, x: S.cam.x + c.width / 2 - (r.left + r.width / 2 - c.left), y: S.cam.y + c.height / 2 - (r.top + r.height / 2 - c.top) });
  }
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const c = canvas.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.0015)), e.clientX - c.left, e.clientY - c.top);
  }, { passive: false });
  const pointers = new Map();
  let moved = 0;
  canvas.addEventListener("pointerdown", (e) => {
    if (e.target.closest("#list")) return;
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    moved = 0;
    canvas.setPointerCapture(e.pointerId);
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", (e) => {
    const p = pointers.get(e.pointerId);
    if (!p) return;
    if (pointers.size === 1) {
      setCam({ ...S.cam, x: S.cam.x + e.clientX - p.x, y: S.cam.y + e.clientY - p.y });
      moved += Math.abs(e.clientX - p.x) + Math.abs(e.clientY - p.y);
    } else if (pointers.size === 2) { // pinch: scale by the change of the distance between two fingers
      const [a, b] = [...pointers.entries()].map(([id, q]) => (id === e.pointerId ? { x: e.clientX, y: e.clientY } : q));
      const [a0, b0] = [...pointers.values()];
      const d0 = Math.hypot(a0.x - b0.x, a0.y - b0.y), d1 = Math.hypot(a.x - b.x, a.y - b.y);
      const c = canvas.getBoundingClientRect();
      if (d0 > 0) zoomAt(d1 / d0, (a.x + b.x) / 2 - c.left, (a.y + b.y) / 2 - c.top);
      moved += 10;
    }
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  });
  const release = (e) => {
    pointers.delete(e.pointerId);
    if (!pointers.size) canvas.classList.remove("dragging");
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);

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
    // a group opens in place (and closes again); a cluster, or a group with no drawing inside, dives
    const name = itemOf(e.target);
    if (!name) return;
    if (collapse(name) || (!name.startsWith("cluster_") && (await expand(name)))) return;
    const i = openKey(name);
    if (i !== undefined && i !== S.view) open(i, { from: S.items.get(name) });
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

  // --- inspector ------------------------------------------------------------------------------------
  const row = (k, v, key) => `<tr><th>${esc(k)}</th><td${key ? ` data-key="${key}"` : ""}>${v}</td></tr>`;
  const nodeLink = (n) => `<a data-node="${n}">#${n}</a>`;
  const GROUP = ["count", "grad_norm", "grad_abs_sum", "grad_abs_max", "data_norm", "data_abs_max", "zero_grad", "nonfinite"];

  function inspect() {
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
  function scalarId(sel) {
    if (typeof sel === "number") return sel;
    const m = /^[no](\d+)$/.exec(sel || "");
    return m ? +m[1] : null;
  }
  function inspectGroup(name, st, opens) {
    let h = `<h3>${esc(name)}</h3>`;
    if (opens !== null && opens !== undefined && opens !== S.view) h += `<button class="open" data-open="${opens}">open ▸</button>`;
    h += "<table>" + GROUP.filter((k) => k in st).map((k) => row(k, esc(show(st[k])), k)).join("");
    if (st.ops) h += row("ops", esc(Object.entries(st.ops).map(([o, c]) => `${o} ${c}`).join(", ")), "ops");
    h += row("nodes", `${nodeLink(st.range[0])} … ${nodeLink(st.range[1])}`) + "</table>";
    if (st.top !== undefined) {
      h += `<h3>where its gradient comes from</h3><p>from its largest |grad| node ${nodeLink(st.top)}, the top ${K} paths to the loss: `;
      h += [...Array(K).keys()].filter((r) => links[st.top * K + r] >= 0).map((r) => `<a data-gpath="${st.top},${r}">${r + 1}</a>`).join(" · ");
      h += ` · <a data-gpath="${st.top},all">all</a> · <a data-path="none">clear</a></p>`;
    }
    const c = S.data.cmp && S.data.cmp[name];
    if (c) h += compareRows(c, "‖grad‖", "‖value‖");
    return h;
  }
  function inspectEdge(name) {
    const [u, v] = name.split("->");
    const e = S.data.edges && S.data.edges[name];
    if (e) return `<h3>${esc(u)} → ${esc(v)}</h3><table>${Object.entries(e).map(([k, x]) => row(k, esc(show(x)), k)).join("")}</table>`;
    const a = scalarId(u), b = scalarId(v);
    const ed = a !== null && b !== null && operands(b).find((x) => x[0] === a);
    if (!ed) return `<h3>${esc(u)} → ${esc(v)}</h3><p>an edge to or from the rest of the graph, or from an operation to its result</p>`;
    return `<h3>edge ${nodeLink(a)} → ${nodeLink(b)}</h3><table>${row("local_grad", esc(show(ed[1])), "local_grad")}${row("grad_flow", esc(show(ed[2])), "grad_flow")}${ed[3] ? row("multiplicity", ed[3]) : ""}</table>`;
  }
  function inspectNode(id, r) {
    let h = `<h3>node #${id}</h3><table>${row("op", esc(r.op), "op")}${row("data", esc(show(T.data[id])), "data")}${row("grad", esc(show(T.grad[id])), "grad")}`;
    for (const [k, v] of Object.entries(r)) {
      if (k === "op" || k === "paths") continue;
      h += row(k, esc(Array.isArray(v) ? v.join(", ") : show(v)), k);
    }
    h += "</table>";
    const edges = (list, dir) => list.map((e) => `<tr><td>${nodeLink(e[0])}${e[3] ? ` ×${e[3]}` : ""}</td><td data-local="${dir}${e[0]}">${esc(show(e[1]))}</td><td data-flow="${dir}${e[0]}">${esc(show(e[2]))}</td></tr>`).join("");
    const ins = operands(id), outs = users(id);
    const head = "<tr><th>node</th><th>local_grad</th><th>grad_flow</th></tr>";
    if (ins.length) h += `<h3>operands (${ins.length})</h3><table class="edges">${head}${edges(ins, "in")}</table>`;
    if (outs.length) h += `<h3>used by (${outs.length})</h3><table class="edges">${head}${edges(outs, "out")}</table>`;
    const c = S.data.cmp && S.data.cmp["n" + id];
    if (c) h += compareRows(c, "|grad|", "|data|") + `<table>${row("other data", esc(show(c[4])))}${row("other grad", esc(show(c[5])))}</table>`;
    if (r.paths.length) {
      h += `<h3>where its gradient comes from: top ${r.paths.length} paths to the loss</h3><ol id="paths">`;
      r.paths.forEach((c, k) => {
        const p = pathFrom(id, k);
        h += `<li><a data-path="${k}">contribution ${esc(show(c))}</a>, ${p.length - 1} steps</li>`;
      });
      h += `</ol><a data-path="all">highlight all</a> · <a data-path="none">clear</a>`;
    }
    return h;
  }
  function compareRows(c, g, v) {
    return `<h3>compared</h3><table>${row(`${g} other / this`, esc(show(c[2])), "ratio")}${row(`${v} other / this`, esc(show(c[3])))}</table>`;
  }
  $("#inspector").addEventListener("click", (e) => {
    const o = e.target.closest("[data-open]");
    if (o) return open(+o.dataset.open, { from: S.items.get(S.sel) });
    const n = e.target.closest("a[data-node]");
    if (n) return goNode(+n.dataset.node);
    const gp = e.target.closest("a[data-gpath]");
    if (gp) {
      const [n, r] = gp.dataset.gpath.split(",");
      const ranks = r === "all" ? [...Array(K).keys()].filter((k) => links[+n * K + k] >= 0) : [+r];
      S.hl = ranks.map((k) => pathFrom(+n, k));
      applyPaths();
      return;
    }
    const p = e.target.closest("a[data-path]");
    if (p) {
      const id = scalarId(S.sel), k = p.dataset.path;
      const ks = k === "none" ? [] : k === "all" ? [...Array(S.data.nodes[id].paths.length).keys()] : [+k];
      S.hl = ks.map((r) => pathFrom(id, r));
      applyPaths();
      saveHash();
    }
  });

  // --- top gradient paths: the tracer's path_links, followed from the selected node ----------------------
  function pathFrom(n, rank) {
    const path = [n];
    for (let link = links[n * K + rank]; link >= 0; link = links[n * K + rank]) {
      n = link >> 3;
      rank = link & 7;
      path.push(n);
    }
    return path;
  }
  function itemOfNode(n) {
    // the item of the current view that holds scalar node n: itself, or the group its stage is in (the
    // view's own membership: a script's groups are not scope path prefixes)
    if (S.items.has("n" + n) || !S.data.items) return S.items.has("n" + n) ? "n" + n : null;
    if (!S.data.groupOf) {
      S.data.groupOf = new Map();
      for (const [g, stages] of Object.entries(S.data.members || {})) for (const s of stages) S.data.groupOf.set(s, g);
    }
    const g = S.data.groupOf.get(nodeScope[n]);
    return g !== undefined && S.items.has(g) ? g : null;
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

  // --- search -----------------------------------------------------------------------------------------
  async function goNode(n) {
    await ready;
    if (!(n >= 0 && n < N)) return say(`no node ${n} (ids 0..${N - 1})`);
    const i = nodeView[n];
    if (i < 0) return say(`node ${n} is drawn inside its operation (a constant)`);
    await open(i, { select: n });
    say(`node #${n} in ${INDEX.views[i].label}`);
  }
  function say(text) {
    $("#found").textContent = text;
  }
  async function search(q) {
    q = q.trim();
    if (!q) return;
    let m = /^#?(\d+)$/.exec(q);
    if (m) return goNode(+m[1]);
    m = /^([\w.]+)\s*\[\s*(\d+)\s*,\s*(\d+)\s*\]$/.exec(q);
    if (m) {
      const name = INDEX.params[m[1]] ? m[1] : Object.keys(INDEX.params).find((p) => p.endsWith("." + m[1]));
      const p = INDEX.params[name];
      if (!p) return say(`no parameter matrix ${m[1]}; there are ${Object.keys(INDEX.params).join(", ")}`);
      const n = p.ids[`${m[2]},${m[3]}`];
      if (n === undefined) return say(`${name}[${m[2]},${m[3]}] takes no part in this step (shape ${p.shape.join("×")})`);
      return goNode(n);
    }
    const key = q.replace(/^\/+|\/+$/g, "");
    if (viewOf.has(key)) return open(viewOf.get(key)).then(() => say(`opened ${key}`));
    // a scope without a view of its own (a stage drawn in its parent): open the parent, select it
    for (let p = key; p.includes("/"); ) {
      p = p.slice(0, p.lastIndexOf("/"));
      if (viewOf.has(p)) {
        await open(viewOf.get(p));
        if (S.items.has(key)) select(key);
        return say(`${key} in ${p}`);
      }
    }
    const hits = INDEX.views.map((v, i) => [v, i]).filter(([v]) => v.key.includes(key) || (v.key + " " + v.label).includes(q)).slice(0, 8);
    const src = searchSource(q);
    if (src !== null) return goNode(src);
    $("#found").innerHTML = hits.length ? "did you mean: " + hits.map(([v, i]) => `<a data-view="${i}">${esc(v.label)}</a>`).join(", ") : `nothing matches ${esc(q)}`;
  }
  function searchSource(q) {
    // a source line (file:line), where the trace records one per node
    const s = INDEX.sources || {};
    const key = s[q] !== undefined ? q : Object.keys(s).find((k) => k.endsWith("/" + q));
    return key !== undefined ? s[key] : null;
  }
  $("#search").addEventListener("submit", (e) => {
    e.preventDefault();
    search($("#q").value);
  });
  $("#found").addEventListener("click", (e) => {
    const a = e.target.closest("a[data-view]");
    if (a) open(+a.dataset.view);
  });

  // --- compare ----------------------------------------------------------------------------------------
  function setupCompare() {
    const c = INDEX.compare;
    if (!c) return;
    const box = $("#compare");
    box.hidden = false;
    const f = c.first;
    const first = f === null ? "none: the two traces are identical" : `node ${nodeLink(f.node)} (${esc(f.what)}: ${esc(show(f.this))} here, ${esc(show(f.other))} there)`;
    box.innerHTML =
      `<h3>compared with step ${c.step} “${esc(c.doc)}”, loss ${esc(show(c.loss))}</h3>` +
      `<label>colour: <select id="colour"><option value="grad">|grad| (this step)</option><option value="gratio">gradient ratio other / this</option><option value="vratio">value ratio other / this</option></select></label>` +
      `<p>ratio colours: <span style="color:#2166ac">■</span> smaller there · white equal · <span style="color:#b2182b">■</span> larger there (log, ±${c.decades} decades)</p>` +
      `<p id="first-diff">first difference: ${first}</p>`;
    box.addEventListener("change", (e) => {
      S.colour = e.target.value;
      applyColour();
      saveHash();
    });
    box.addEventListener("click", (e) => {
      const n = e.target.closest("a[data-node]");
      if (n) goNode(+n.dataset.node);
    });
  }
  function applyColour() {
    if (!S.data || !S.data.layout) return;
    const cmp = S.data.cmp || {};
    for (const [name, g] of S.items) {
      const shape = g.classList.contains("node") && g.querySelector("polygon, path, rect, ellipse");
      if (!shape) continue;
      if (shape.dataset.fill === undefined) shape.dataset.fill = shape.getAttribute("fill");
      const c = cmp[name];
      const fill = S.colour === "grad" || !INDEX.compare ? shape.dataset.fill : c ? c[S.colour === "gratio" ? 0 : 1] : "#ffffff";
      shape.setAttribute("fill", fill);
    }
  }

  // --- the player: forward in evaluation order, then backward as the engine's backward runs ------------
  // The order is the tracer's (tracer/order.py): the node at forward position i is computed at time
  // i + 1, the node at backward position j gets its gradient at time N + j + 1; a group lights as its
  // nodes do: [first, last forward position, first, last backward position]. t = 2N (the end) is the
  // step as the static figures show it.
  const tInput = $("#p-t");
  tInput.max = END;
  function phase([fa, fb, ba, bb], t) {
    if (t <= fa) return "p-todo";
    if (t <= fb) return "p-fwd";
    if (t <= N + ba) return "p-val";
    if (t <= N + bb) return "p-back";
    return "p-grad";
  }
  function ranges() {
    // [name, times, second name] of every item of the current view that the player lights; an edge
    // follows the node or group it points to
    let out = [];
    // (a group opened in place holds both: its groups or scalars inside, the groups around)
    if (S.data.nodes) out = Object.keys(S.data.nodes).filter((n) => S.items.has("n" + n)).map((n) => ["n" + n, [fpos[n], fpos[n], bpos[n], bpos[n]], "o" + n]);
    if (S.data.items) out = out.concat(Object.entries(S.data.items).map(([k, it]) => [k, it.times]));
    const by = new Map(out.map((r) => [r[0], r]));
    for (const [name, g] of S.items) {
      if (!g.classList.contains("edge")) continue;
      const head = name.split("->")[1].replace(/^o/, "n");
      const r = by.get(head);
      if (r) out.push([name, r[1]]);
    }
    return out;
  }
  let lit = [];
  function applyPlayer(rebuild) {
    if (rebuild) lit = S.data ? ranges().map((r) => ({ r, cls: "" })) : [];
    for (const it of lit) {
      const cls = phase(it.r[1], S.t);
      if (cls === it.cls) continue;
      for (const name of [it.r[0], it.r[2]]) {
        const g = name && S.items.get(name);
        if (!g) continue;
        if (it.cls) g.classList.remove(it.cls);
        if (cls) g.classList.add(cls);
      }
      it.cls = cls;
    }
    // the node the last operation made (forward) or gave its gradient (backward), if it is in view
    for (const g of stage.querySelectorAll(".p-now")) g.classList.remove("p-now");
    const t = Math.floor(S.t), now = t > 0 && t < END ? (t <= N ? fwd[t - 1] : bwd[t - N - 1]) : -1;
    const g = now >= 0 && S.items.get("n" + now);
    if (g) g.classList.add("p-now");
    if (rebuild || S.t >= END || S.t % 1 === 0) tInput.value = S.t;
    where();
  }
  function where() {
    const t = Math.floor(S.t);
    let text = "";
    if (t >= END) text = "end of the step: every value and gradient";
    else if (t === 0) text = "start: nothing computed yet";
    else if (fwd) {
      const n = t <= N ? fwd[t - 1] : bwd[t - N - 1];
      text = `${t <= N ? "forward " : "backward"} ${t <= N ? t : t - N}/${N} · #${n} ${INDEX.scopes[nodeScope[n]]}`;
    }
    $("#p-where").textContent = text;
  }
  function events() {
    // the times at which something in view changes: one node at a time at the scalar level
    const ts = new Set([0, END]);
    for (const { r: [, [fa, fb, ba, bb]] } of lit) for (const x of [fa + 1, fb + 1, N + ba + 1, N + bb + 1]) ts.add(x);
    return [...ts].sort((a, b) => a - b);
  }
  function seek(t) {
    S.t = Math.max(0, Math.min(END, t));
    applyPlayer(false);
    saveHash();
  }
  function step(dir) {
    const ev = events();
    const next = dir > 0 ? ev.find((x) => x > S.t) : [...ev].reverse().find((x) => x < S.t);
    seek(next === undefined ? (dir > 0 ? END : 0) : next);
  }
  // Playing goes through the operations at an even pace: a leaf (a parameter read, a constant) takes no
  // time of its own, it lights with the operation that reads it (forward) or that passes it its last
  // gradient (backward). Otherwise the first position, which reads every parameter, would take half the
  // forward pass. opsAt[t]: the operations done by time t.
  let opsAt = null;
  function pace() {
    if (!opsAt) {
      opsAt = new Int32Array(END + 1);
      for (let t = 1; t <= END; t++) {
        const n = t <= N ? fwd[t - 1] : bwd[t - N - 1];
        opsAt[t] = opsAt[t - 1] + (T.inStart[n + 1] > T.inStart[n] ? 1 : 0);
      }
    }
    return opsAt;
  }
  function timeAtOps(k) {
    // the time at which the k-th operation is done (with the leaves it reads)
    const a = pace();
    if (k > a[END]) return END;
    let lo = 0, hi = END;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (a[mid] >= k) hi = mid; else lo = mid + 1; }
    return lo;
  }
  let last = 0;
  function frame(now) {
    if (!S.playing) return;
    const dt = Math.min(0.1, (now - last) / 1000);
    last = now;
    const speed = +$("#p-speed").value;
    if (S.data && S.data.nodes) {
      // scalar level: about three events a second at 1x, so each value and gradient can be read
      S.acc = (S.acc || 0) + dt * 3 * speed;
      while (S.acc >= 1) { S.acc -= 1; step(1); }
    } else {
      S.ops = (S.ops === undefined ? pace()[Math.round(S.t)] : S.ops) + (dt * pace()[END] * speed) / 20; // the step in 20 s at 1x
      seek(S.ops >= pace()[END] ? END : timeAtOps(Math.ceil(S.ops))); // the last leaves' gradients at the end
    }
    if (S.t >= END) return pause();
    requestAnimationFrame(frame);
  }
  function play() {
    if (!fwd) return; // the order is still being unpacked
    if (S.t >= END) seek(0);
    S.ops = undefined;
    S.playing = true;
    $("#p-play").classList.add("playing");
    last = performance.now();
    requestAnimationFrame(frame);
  }
  function pause() {
    S.playing = false;
    $("#p-play").classList.remove("playing");
    seek(Math.round(S.t));
  }
  $("#p-play").onclick = () => (S.playing ? pause() : play());
  $("#p-next").onclick = () => step(1);
  $("#p-back").onclick = () => step(-1);
  $("#p-start").onclick = () => seek(0);
  $("#p-end").onclick = () => seek(END);
  tInput.oninput = () => seek(+tInput.value);

  // --- the URL: #v=<view>&t=<time>&n=<selection>, so a blog can link to a moment -----------------------
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
})();
