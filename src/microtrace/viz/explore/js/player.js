// The player: forward in evaluation order, then backward as the engine's backward runs; play, pause,
// step, scrub and speed.
// The order is the tracer's (tracer/model/order.py): the node at forward position i is computed at time
// i + 1, the node at backward position j gets its gradient at time N + j + 1; a group lights as its
// nodes do: [first, last forward position, first, last backward position]. t = 2N (the end) is the
// step as the static figures show it.
import { $, stage } from "./dom.js";
import { END, INDEX, N, T } from "./data.js";
import { S, on, setPlaying, setTime } from "./state.js";

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
  if (S.data.nodes) out = Object.keys(S.data.nodes).filter((n) => S.items.has("n" + n)).map((n) => ["n" + n, [T.fpos[n], T.fpos[n], T.bpos[n], T.bpos[n]], "o" + n]);
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
  const t = Math.floor(S.t), now = t > 0 && t < END ? (t <= N ? T.fwd[t - 1] : T.bwd[t - N - 1]) : -1;
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
  else if (T.fwd) {
    const n = t <= N ? T.fwd[t - 1] : T.bwd[t - N - 1];
    text = `${t <= N ? "forward " : "backward"} ${t <= N ? t : t - N}/${N} · #${n} ${INDEX.scopes[T.nodeScope[n]]}`;
  }
  $("#p-where").textContent = text;
}
function events() {
  // the times at which something in view changes: one node at a time at the scalar level
  const ts = new Set([0, END]);
  for (const { r: [, [fa, fb, ba, bb]] } of lit) for (const x of [fa + 1, fb + 1, N + ba + 1, N + bb + 1]) ts.add(x);
  return [...ts].sort((a, b) => a - b);
}
export function seek(t) {
  setTime(t);
}
export function step(dir) {
  const ev = events();
  const next = dir > 0 ? ev.find((x) => x > S.t) : [...ev].reverse().find((x) => x < S.t);
  seek(next === undefined ? (dir > 0 ? END : 0) : next);
}
// Playing goes through the operations at an even pace: a leaf (a parameter read, a constant) takes no
// time of its own, it lights with the operation that reads it (forward) or that passes it its last
// gradient (backward). Otherwise the first position, which reads every parameter, would take half the
// forward pass. opsAt[t]: the operations done by time t.
let opsAt = null;
export function pace() {
  if (!opsAt) {
    opsAt = new Int32Array(END + 1);
    for (let t = 1; t <= END; t++) {
      const n = t <= N ? T.fwd[t - 1] : T.bwd[t - N - 1];
      opsAt[t] = opsAt[t - 1] + (T.inStart[n + 1] > T.inStart[n] ? 1 : 0);
    }
  }
  return opsAt;
}
export function timeAtOps(k) {
  // the time at which the k-th operation is done (with the leaves it reads)
  const a = pace();
  if (k > a[END]) return END;
  let lo = 0, hi = END;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (a[mid] >= k) hi = mid; else lo = mid + 1; }
  return lo;
}
let last = 0, acc = 0, ops; // the time of the last frame; scalar events and operations owed
function frame(now) {
  if (!S.playing) return;
  const dt = Math.min(0.1, (now - last) / 1000);
  last = now;
  const speed = +$("#p-speed").value;
  if (S.data && S.data.nodes) {
    // scalar level: about three events a second at 1x, so each value and gradient can be read
    acc += dt * 3 * speed;
    while (acc >= 1) { acc -= 1; step(1); }
  } else {
    ops = (ops === undefined ? pace()[Math.round(S.t)] : ops) + (dt * pace()[END] * speed) / 20; // the step in 20 s at 1x
    seek(ops >= pace()[END] ? END : timeAtOps(Math.ceil(ops))); // the last leaves' gradients at the end
  }
  if (S.t >= END) return pause();
  requestAnimationFrame(frame);
}
export function play() {
  if (!T.fwd) return; // the order is still being unpacked
  if (S.t >= END) seek(0);
  ops = undefined;
  setPlaying(true);
  last = performance.now();
  requestAnimationFrame(frame);
}
export function pause() {
  setPlaying(false);
  seek(Math.round(S.t));
}
$("#p-play").onclick = () => (S.playing ? pause() : play());
$("#p-next").onclick = () => step(1);
$("#p-back").onclick = () => step(-1);
$("#p-start").onclick = () => seek(0);
$("#p-end").onclick = () => seek(END);
tInput.oninput = () => seek(+tInput.value);
on("playing", () => $("#p-play").classList.toggle("playing", S.playing));
on("drawn", () => applyPlayer(true));
on("time", () => applyPlayer(false));
