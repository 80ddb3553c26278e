// The start: the charts drawn, the block view found, everything wired to the keys and the mouse.
function start() {
  document.getElementById("title").textContent = D.title;
  document.getElementById("text").textContent = D.text;
  const metrics = document.getElementById("metric");
  for (const [key, [label]] of Object.entries(D.metrics)) {
    const input = el("input", {type: "radio", name: "metric", value: key});
    input.checked = key === state.metric;
    const lab = el("label");
    lab.append(input, document.createTextNode(" " + label));
    metrics.append(lab);
  }
  metrics.addEventListener("change", e => { state.metric = e.target.value; drawLegend(state.metric); show(state.i); });
  B = blockItems();
  drawLegend(state.metric);
  charts = [drawLoss(), drawMatrixLines("gradlines", "grad_norm", "‖grad‖ per matrix (log)"),
            drawMatrixLines("updlines", "update_ratio", "Adam update ÷ data per matrix (log; dashed: 1e-3)", 1e-3), drawHealth()];
  listFindings();
  listSamples();
  listEmbedded();
  const scrub = document.getElementById("p-scrub");
  scrub.max = F.length - 1;
  scrub.addEventListener("input", () => { play(false); show(+scrub.value); });
  document.getElementById("p-speed").addEventListener("change", e => { state.fps = +e.target.value; });
  const buttons = {"p-start": () => show(0), "p-back": () => show(state.i - 1), "p-next": () => show(state.i + 1),
                   "p-end": () => show(F.length - 1), "p-play": () => play()};
  for (const [id, act] of Object.entries(buttons)) document.getElementById(id).addEventListener("click", () => { if (id !== "p-play") play(false); act(); });
  document.getElementById("open").addEventListener("click", openStep);
  document.getElementById("close").addEventListener("click", closeViewer);
  scrubOnChart(document.getElementById("loss"), charts[0]);
  for (const c of charts.slice(1)) scrubOnChart(c.svg, c);
  hoverGroups();
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", () => { if (!state.playing) show(readHash()); });
  show(readHash());
  document.body.dataset.ready = "1";
}

function onKey(e) {
  if (e.target.closest && e.target.closest("input[type=range], select, input[type=radio]") && e.key !== " " && e.key !== "Escape") return;
  const viewer = !document.getElementById("viewer").hidden;
  if (viewer) { if (e.key === "Escape") closeViewer(); return; }
  const keys = {" ": () => play(), "ArrowLeft": () => { play(false); show(state.i - 1); }, "ArrowRight": () => { play(false); show(state.i + 1); },
                "Home": () => { play(false); show(0); }, "End": () => { play(false); show(F.length - 1); }, "o": openStep, "O": openStep};
  const act = keys[e.key];
  if (act && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); act(); }
}

// Click or drag on a chart: the cursor goes to the frame nearest the pointer's step.
function scrubOnChart(svg, c) {
  const to = e => {
    const box = svg.getBoundingClientRect(), x = (e.clientX - box.left) * c.W / box.width;
    let best = 0;
    F.forEach((f, i) => { if (Math.abs(c.x(f.step) - x) < Math.abs(c.x(F[best].step) - x)) best = i; });
    show(best);
  };
  svg.addEventListener("pointerdown", e => { play(false); svg.setPointerCapture(e.pointerId); to(e); });
  svg.addEventListener("pointermove", e => { if (svg.hasPointerCapture(e.pointerId)) to(e); });
}

// Hovering a group: its numbers at this frame.
function hoverGroups() {
  const tip = document.getElementById("tip"), panel = document.getElementById("graph");
  B.groups.forEach((grp, j) => {
    grp.g.addEventListener("pointerenter", () => {
      const i = state.i, lines = [grp.name];
      for (const m of Object.keys(D.metrics)) lines.push(`${D.metrics[m][0]}: ${D.colours[m].text[i][j]}`);
      if (D.colours.grad.fill[i][j] < 0) lines.push(`not in step ${F[i].step}'s document`);
      tip.textContent = lines.join("\n");
      tip.hidden = false;
    });
    grp.g.addEventListener("pointermove", e => {
      const box = panel.getBoundingClientRect();
      tip.style.left = (e.clientX - box.left + 14) + "px";
      tip.style.top = (e.clientY - box.top + 14) + "px";
    });
    grp.g.addEventListener("pointerleave", () => { tip.hidden = true; });
  });
}

function listFindings() {
  const list = document.getElementById("findings");
  F.forEach((f, i) => f.findings.forEach(finding => {
    const li = el("li", {class: finding.severity});
    li.dataset.frame = i;
    const a = el("a", {}, `step ${f.step}`);
    a.addEventListener("click", () => { play(false); show(i); });
    li.append(a, document.createTextNode(` ${finding.severity} ${finding.where}: ${finding.what}`));
    list.append(li);
  }));
  if (!list.children.length) list.append(el("li", {}, "doctor finds nothing wrong at any frame"));
}

function listSamples() {
  const body = document.querySelector("#samplelist tbody");
  for (const [k, names] of D.samples) {
    const tr = body.insertRow();
    tr.dataset.step = k;
    tr.insertCell().textContent = k ? `after ${k} steps` : "at the start";
    tr.insertCell().textContent = names.join("  ");
  }
}

function listEmbedded() {
  const box = document.getElementById("embedded");
  for (const k of D.embedded) {
    const b = el("button", {}, `step ${k}`);
    b.addEventListener("click", () => openExplorer(k));
    box.append(b);
  }
}

function openStep() {
  const step = F[state.i].step;
  if (D.embedded.includes(step)) return openExplorer(step);
  const cmd = document.getElementById("command");
  cmd.scrollIntoView({block: "center"});
  getSelection().selectAllChildren(cmd);
}

async function openExplorer(step) {
  play(false);
  const viewer = document.getElementById("viewer"), frame = document.getElementById("frame");
  document.getElementById("viewer-title").textContent = `step ${step}: the explorer (double-click a box to open it, down to single scalars)`;
  viewer.hidden = false;
  frame.srcdoc = await explorerPage(step);
  document.body.dataset.viewer = step;
}

function closeViewer() {
  document.getElementById("viewer").hidden = true;
  document.getElementById("frame").removeAttribute("srcdoc");
  delete document.body.dataset.viewer;
  document.getElementById("open").focus();
}

start();
