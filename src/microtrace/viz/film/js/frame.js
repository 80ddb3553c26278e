// One frame drawn: the block view's colours and widths, attention and predictions, the numbers.
const METRIC_LABEL = {grad: "‖g‖", update: "u/d", change: "Δ"};
const VIRIDIS = D.viridis;

// The block view's SVG (Graphviz's, laid out once): its groups, edges and position clusters by name.
function blockItems() {
  const byTitle = sel => {
    const out = new Map();
    for (const g of document.querySelectorAll("#svgbox " + sel)) out.set(g.querySelector("title").textContent, g);
    return out;
  };
  const nodes = byTitle("g.node"), edges = byTitle("g.edge"), clusters = byTitle("g.cluster");
  const groups = D.groups.map(name => {
    const g = nodes.get(name);
    const texts = [...g.querySelectorAll("text")];
    return {
      g, name,
      shape: g.querySelector("path, polygon"),
      value: texts.find(t => t.textContent.startsWith("‖g‖")),
      loss: texts.find(t => t.textContent.startsWith("loss ")),
      texts,
    };
  });
  const links = D.edges.map(name => {
    const g = edges.get(name);
    return g && {g, parts: [...g.querySelectorAll("path, polygon")]};
  });
  const positions = [];
  for (const [title, g] of clusters) {
    const m = /^cluster_pos(\d+)$/.exec(title);
    if (m) positions[+m[1]] = g.querySelector("text");
  }
  return {groups, links, positions};
}

// `words`: the numbers and labels too (while playing they are written a few times a second: at 30 frames
// a second nobody reads them, and they are most of what a frame costs the browser).
function drawBlock(B, i, metric, words) {
  const f = F[i], C = D.colours[metric];
  B.groups.forEach((grp, j) => {
    const k = C.fill[i][j];
    grp.g.classList.toggle("absent", k < 0);
    if (k < 0) {  // a position this step's document does not reach: no number of its own
      if (grp.value && words) setText(grp.value, `${METRIC_LABEL[metric]} –`);
      return;
    }
    if (grp.colour !== k) {  // only what changed: an attribute set is a style to recompute
      grp.colour = k;
      const [fill, ink] = D.palette[k].split(" ");
      grp.shape.setAttribute("fill", fill);
      for (const t of grp.texts) t.setAttribute("fill", ink);
    }
    if (!words) return;
    if (grp.value) setText(grp.value, `${METRIC_LABEL[metric]} ${C.text[i][j]}`);
    if (grp.loss) setText(grp.loss, `loss ${short(f.loss)}`);
  });
  B.links.forEach((link, j) => {
    if (!link) return;
    const w = D.widths[i][j];
    link.g.classList.toggle("absent", w === null);
    if (link.width === w) return;
    link.width = w;
    for (const p of link.parts) {
      p.setAttribute("stroke-width", w === null ? 0.6 : Math.max(0.6, w));
      p.setAttribute("stroke-dasharray", w === 0 ? "1,5" : "");
      if (w === -1) p.setAttribute("stroke", "#e00000");
    }
  });
  B.positions.forEach((t, p) => {
    if (!t || !words) return;
    const here = p + 1 < f.chars.length ? `   ${tok(f.chars[p])} → ${tok(f.chars[p + 1])}` : "";
    setText(t, `position ${p}${here}`);
  });
}

function tok(label) { return label === "<BOS>" ? "BOS" : label; }

function drawLegend(metric) {
  const box = document.getElementById("legend");
  box.textContent = "";
  const C = D.colours[metric];
  const what = el("span", {}, D.metrics[metric][1] + ":");
  box.append(what);
  if (C.legend) {
    const bar = el("span", {class: "bar"});
    for (const s of C.legend.swatches) bar.append(el("i", {style: "background:" + s}));
    box.append(el("span", {}, "≤ " + C.legend.lo), bar, el("span", {}, C.legend.hi));
  }
  const pens = el("span", {}, "edge width: Σ|gradient flow|");
  for (const [w, t] of D.pens) pens.append(el("i", {class: "pen", style: `height:${Math.max(1, Math.round(w))}px`}), document.createTextNode(t));
  box.append(pens);
  const kinds = el("span");
  for (const [colour, t] of D.kinds) kinds.append(el("i", {class: "kind", style: "background:" + colour}), document.createTextNode(t));
  box.append(kinds, el("span", {}, "faint: not in this step's document"));
}

// Every head's weights at this frame, on the text: one heat map a head (viridis, 0 to 1, as `attention`).
// The text is the same at every frame: its labels are drawn once, the cells at each frame.
const ATT = {canvases: [], pad: 44, size: 380};

function drawAttention(i) {
  const a = F[i].attention, box = document.getElementById("heads");
  const heads = a.attention.flatMap((layer, li) => layer.map((rows, hi) => [li, hi, rows]));
  const n = a.tokens.length, pad = ATT.pad, cell = (ATT.size - pad) / n;
  if (!ATT.canvases.length) {
    for (const [li, hi] of heads) {
      const fig = el("figure"), canvas = el("canvas", {width: ATT.size, height: ATT.size, "data-head": `${li}.${hi}`});
      fig.append(canvas, el("figcaption", {}, `layer ${li} head ${hi}`));
      box.append(fig);
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, ATT.size, ATT.size);
      ctx.font = `${Math.min(34, cell * 0.9)}px "DejaVu Sans Mono", monospace`;
      ctx.textAlign = "center"; ctx.textBaseline = "middle"; ctx.fillStyle = "#5a5a5a";
      a.tokens.forEach((t, q) => {
        const label = t === "<BOS>" ? "·" : t;
        ctx.fillText(label, pad / 2, pad + (q + 0.5) * cell);
        ctx.fillText(label, pad + (q + 0.5) * cell, pad / 2);
      });
      ATT.canvases.push(ctx);
    }
  }
  heads.forEach(([, , rows], h) => {
    const ctx = ATT.canvases[h];
    rows.forEach((row, q) => row.forEach((w, k) => {
      w = num(w);
      ctx.fillStyle = isFinite(w) ? VIRIDIS[Math.max(0, Math.min(VIRIDIS.length - 1, Math.round(w * (VIRIDIS.length - 1))))] : "#808080";
      ctx.fillRect(pad + k * cell, pad + q * cell, cell - 0.5, cell - 0.5);
    }));
  });
}

function drawPredictions(i, words) {
  const body = document.querySelector("#pred tbody"), P = F[i].predictions, tokens = F[i].attention.tokens;
  while (body.rows.length > P.length) body.deleteRow(-1);
  while (body.rows.length < P.length) {
    const tr = body.insertRow();
    for (const cls of ["at", "next", "p", "top"]) tr.insertCell().className = cls;
  }
  P.forEach((p, q) => {
    const [at, next, pcell, top] = body.rows[q].cells;
    setText(at, tok(tokens[q]));
    setText(next, tok(p.next));
    if (!pcell.firstChild) pcell.append(el("span", {class: "pbar"}), document.createTextNode(""));
    pcell.firstChild.style.width = `${(num(p.p_next) * 100).toFixed(1)}px`;
    if (!words) return;
    setText(pcell.lastChild, short(p.p_next));
    pcell.title = String(num(p.p_next));
    while (top.children.length < p.top.length) top.append(el("span"));
    p.top.forEach(([label, prob], r) => {
      const span = top.children[r];
      span.classList.toggle("hit", label === p.next);
      span.title = String(num(prob));
      setText(span, `${tok(label)} ${short(prob)}`);
    });
  });
  if (words) setText(document.getElementById("text-loss"), `loss on it at this step ${short(F[i].attention.loss)}`);
}

// The cursor's numbers per matrix: what `gradflow --steps` writes for this step (exact on hover).
function drawNumbers(i, words) {
  const body = document.querySelector("#numbers tbody"), f = F[i], names = Object.keys(f.params);
  if (body.rows.length !== names.length) {
    body.textContent = "";
    names.forEach((n, j) => {
      const tr = body.insertRow();
      const name = tr.insertCell();
      name.append(el("i", {style: "background:" + MATRIX_COLOURS[j % MATRIX_COLOURS.length]}), document.createTextNode(n));
      for (const key of ["grad_norm", "update_ratio", "change"]) tr.insertCell().dataset.key = key;
      tr.dataset.matrix = n;
    });
  }
  if (!words) return;
  names.forEach((n, j) => {
    const cells = body.rows[j].cells;
    for (const c of [...cells].slice(1)) {
      const v = c.dataset.key === "change" ? f.change[n] : f.params[n][c.dataset.key];
      setText(c, short(v));
      c.dataset.value = v === null ? "" : String(num(v));
      c.title = c.dataset.value;
    }
  });
}

function drawFindings(i) {
  for (const li of document.querySelectorAll("#findings li")) li.classList.toggle("now", +li.dataset.frame === i);
  const step = F[i].step;
  let now = null;
  for (const tr of document.querySelectorAll("#samplelist tr")) { tr.classList.remove("now"); if (+tr.dataset.step <= step + 1) now = tr; }
  if (now) now.classList.add("now");
}
