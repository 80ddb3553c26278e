// Charts over the steps, drawn once as SVG; only their cursors move with the frame.
const MATRIX_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const PAD = {l: 46, r: 26, t: 12, b: 18};

function chartFrame(svg, ylo, yhi, log) {
  const box = svg.getBoundingClientRect();
  const W = Math.max(200, box.width), H = Math.max(60, box.height);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.textContent = "";
  const last = Math.max(1, D.steps - 1);
  const x = s => PAD.l + (W - PAD.l - PAD.r) * s / last;
  const t = v => log ? (Math.log10(v) - Math.log10(ylo)) / (Math.log10(yhi) - Math.log10(ylo)) : (v - ylo) / ((yhi - ylo) || 1);
  const y = v => H - PAD.b - (H - PAD.t - PAD.b) * Math.min(1, Math.max(0, t(v)));
  svg.append(el("svg:path", {class: "axis", d: `M${PAD.l},${PAD.t}V${H - PAD.b}H${W - PAD.r}`}));
  const ticks = log ? decades(ylo, yhi) : [ylo, (ylo + yhi) / 2, yhi];
  for (const v of ticks) {
    svg.append(el("svg:line", {class: "grid", x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v)}));
    svg.append(el("svg:text", {x: PAD.l - 4, y: y(v) + 3, "text-anchor": "end"}, short(v)));
  }
  for (const s of [0, Math.round(last / 2), last]) svg.append(el("svg:text", {x: x(s), y: H - 5, "text-anchor": "middle"}, "step " + s));
  const cursor = el("svg:line", {class: "cursor", y1: PAD.t, y2: H - PAD.b});
  return {svg, W, H, x, y, cursor};
}

function decades(lo, hi) {
  const out = [];
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) out.push(10 ** e);
  return out.length > 1 ? out : [lo, hi];
}

function line(c, points, cls, colour) {
  const d = points.filter(([, v]) => v !== null && isFinite(v)).map(([s, v], i) => `${i ? "L" : "M"}${c.x(s).toFixed(1)},${c.y(v).toFixed(1)}`).join("");
  const p = el("svg:path", {class: cls || "", d, fill: "none"});
  if (colour) { p.setAttribute("stroke", colour); p.setAttribute("stroke-width", "1.5"); }
  c.svg.append(p);
  return p;
}

function range(values, log) {
  const v = values.filter(x => x !== null && isFinite(x) && (!log || x > 0));
  if (!v.length) return [log ? 1e-3 : 0, 1];
  let lo = Math.min(...v), hi = Math.max(...v);
  if (hi <= lo) { lo = log ? lo / 10 : lo - 1; hi = log ? hi * 10 : hi + 1; }
  return [lo, hi];
}

// The loss of every step (thin) and its moving average (thick); pins: doctor's findings, the embedded
// steps, the checkpoints' samples and where training stopped on a non-finite number.
function drawLoss() {
  const losses = D.losses.map(num);
  const [lo, hi] = range(losses, false);
  const c = chartFrame(document.getElementById("loss"), Math.max(0, lo - 0.05 * (hi - lo)), hi, false);
  line(c, losses.map((v, s) => [s, v]), "raw");
  const w = Math.max(1, Math.round(D.steps / 50));
  let sum = 0, n = 0; const smooth = [];
  losses.forEach((v, s) => { if (isFinite(v)) { sum += v; n++; } if (s >= w && isFinite(losses[s - w])) { sum -= losses[s - w]; n--; } smooth.push([s, n ? sum / n : null]); });
  line(c, smooth, "smooth");
  c.svg.append(el("svg:text", {x: c.W - PAD.r, y: PAD.t + 2, "text-anchor": "end"}, `loss per step, and its mean over ${w} steps`));
  for (const f of F) for (const finding of f.findings) {
    const x = c.x(f.step);
    c.svg.append(el("svg:path", {class: "pin-" + finding.severity, d: `M${x - 4},${PAD.t - 8}h8l-4,7z`}));
  }
  for (const [k] of D.samples) c.svg.append(el("svg:rect", {class: "tick-sample", x: c.x(Math.min(k, D.steps - 1)) - 1, y: c.H - PAD.b - 5, width: 2, height: 5}));
  for (const k of D.embedded) c.svg.append(el("svg:circle", {class: "pin-open", cx: c.x(k), cy: PAD.t + 4, r: 3.5}));
  if (D.stopped !== null) c.svg.append(el("svg:line", {class: "bad", x1: c.x(D.stopped), x2: c.x(D.stopped), y1: PAD.t, y2: c.H - PAD.b}));
  c.svg.append(c.cursor);
  return c;
}

// One line per matrix over the frames: `key` of each frame's params (log scale); `guide`: a dashed level.
function drawMatrixLines(id, key, title, guide) {
  const names = Object.keys(F[0].params);
  const values = F.flatMap(f => names.map(n => num(f.params[n][key])));
  const [lo, hi] = range(values, true);
  const c = chartFrame(document.getElementById(id), lo, hi, true);
  names.forEach((n, i) => line(c, F.map(f => [f.step, num(f.params[n][key])]), "", MATRIX_COLOURS[i % MATRIX_COLOURS.length]));
  if (guide && guide > lo && guide < hi) c.svg.append(el("svg:line", {class: "guide", x1: PAD.l, x2: c.W - PAD.r, y1: c.y(guide), y2: c.y(guide)}));
  c.svg.append(el("svg:text", {x: c.W - PAD.r, y: PAD.t + 2, "text-anchor": "end"}, title));
  c.svg.append(c.cursor);
  return c;
}

// Dead ReLU units and saturated softmax rows, as shares of all, per frame; the first non-finite frame.
function drawHealth() {
  const series = [
    ["dead ReLU units", "#d62728", f => f.relu.units ? f.relu.dead / f.relu.units : null],
    ["saturated attention rows", "#9467bd", f => f.saturated.attention_rows ? f.saturated.attention / f.saturated.attention_rows : null],
    ["saturated output softmax", "#ff7f0e", f => f.saturated.output_rows ? f.saturated.output / f.saturated.output_rows : null],
  ];
  const c = chartFrame(document.getElementById("healthlines"), 0, 1, false);
  series.forEach(([name, colour, get], i) => {
    line(c, F.map(f => [f.step, get(f)]), "", colour);
    c.svg.append(el("svg:text", {x: c.W - PAD.r, y: PAD.t + 2 + 11 * i, "text-anchor": "end", fill: colour, style: "fill:" + colour}, name));
  });
  const bad = F.find(f => f.nonfinite > 0 || !isFinite(num(f.loss)));
  if (bad) {
    c.svg.append(el("svg:line", {class: "bad", x1: c.x(bad.step), x2: c.x(bad.step), y1: PAD.t, y2: c.H - PAD.b}));
    c.svg.append(el("svg:text", {x: c.x(bad.step) + 3, y: c.H - PAD.b - 4, style: "fill:#e53e3e"}, `first nan/inf: step ${bad.step}`));
  }
  c.svg.append(c.cursor);
  return c;
}

function moveCursors(charts, step) {
  for (const c of charts) {
    const x = c.x(step).toFixed(1);
    c.cursor.setAttribute("x1", x);
    c.cursor.setAttribute("x2", x);
  }
}
