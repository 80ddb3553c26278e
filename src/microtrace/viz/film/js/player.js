// The cursor: which frame is shown, playing at a number of frames per second, and the URL (#s=STEP).
const state = {i: 0, playing: false, fps: 10, metric: "grad", last: 0, carry: 0, wordsAt: -Infinity};
const WORDS_MS = 250;  // while playing, the numbers and labels are written at most this often
let charts = [], B = null;

function show(i) {
  i = Math.max(0, Math.min(F.length - 1, i));
  state.i = i;
  const f = F[i], now = performance.now();
  const words = !state.playing || now - state.wordsAt >= WORDS_MS;
  if (words) state.wordsAt = now;
  drawBlock(B, i, state.metric, words);
  drawAttention(i);
  drawPredictions(i, words);
  drawNumbers(i, words);
  drawFindings(i);
  moveCursors(charts, f.step);
  document.getElementById("p-scrub").value = i;
  const where = `step ${f.step} of ${D.steps} · frame ${i + 1}/${F.length} · “${f.doc}” · loss ${short(f.loss)} · lr ${short(f.lr)}`;
  setText(document.getElementById("where"), where);
  setText(document.getElementById("doc"), `step ${f.step}, trained on “${f.doc}”`);
  const embedded = D.embedded.includes(f.step);
  const open = document.getElementById("open");
  setText(open, embedded ? "open this step" : "command for this step");
  open.title = embedded ? "open the explorer of this step (O)" : "this step is not embedded: the command that writes its explorer (O)";
  setText(document.getElementById("command"), D.commands[f.step] || "");
  document.body.dataset.step = f.step;
  if (!state.playing) writeHash(f.step);
}

// Once the cursor rests (a browser throttles a page that rewrites its URL at every frame of a scrub).
let hashTimer = 0;
function writeHash(step) {
  clearTimeout(hashTimer);
  hashTimer = setTimeout(() => {
    if (location.hash === "#s=" + step) return;
    try { history.replaceState(null, "", "#s=" + step); } catch (e) { /* a sandboxed frame may refuse: the page works without */ }
  }, 120);
}

function readHash() {
  const m = /^#s=(\d+)$/.exec(location.hash);
  return m ? frameAt(+m[1]) : 0;
}

function play(on) {
  const was = state.playing;
  state.playing = on === undefined ? !state.playing : on;
  document.getElementById("p-play").classList.toggle("playing", state.playing);
  if (state.playing) {
    if (state.i === F.length - 1) show(0);
    state.last = performance.now();
    state.carry = 0;
    requestAnimationFrame(tick);
  } else if (was) {
    show(state.i);  // the numbers and labels of the frame it stops at
  }
}

function tick(now) {
  if (!state.playing) return;
  state.carry += (now - state.last) * state.fps / 1000;
  state.last = now;
  const advance = Math.floor(state.carry);
  if (advance > 0) {
    state.carry -= advance;
    if (state.i + advance >= F.length - 1) { show(F.length - 1); play(false); return; }
    show(state.i + advance);
  }
  requestAnimationFrame(tick);
}
