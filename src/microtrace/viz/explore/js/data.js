// The trace's data: the index (INDEX), the views that wait gzipped until one is opened (payload), and
// the packed per-node tables (T: nodeView, nodeScope, links, the player's order and the columns)
// unpacked once (ready). Data only: nothing here changes once it is unpacked.
import { $, esc } from "./dom.js";

export const INDEX = JSON.parse($("#index").textContent);
export const META = INDEX.meta;
export const N = META.nodes; // nodes in the step
export const K = META.paths; // gradient paths kept per node
export const END = 2 * N; // the player's last time
const SPECIAL = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity }; // what JSON cannot hold, as tracer/model/schema.py spells it
export const num = (v) => (typeof v === "string" && v in SPECIAL ? SPECIAL[v] : v);
export const show = (v) => String(num(v)); // full precision: the shortest text that reads back as the same double
// a number as people read it, 4 significant digits (HTML); the full value (show) on hover and when copied
// (input.js puts it on the clipboard)
export function figure(v) {
  const x = num(v);
  if (typeof x !== "number" || !Number.isFinite(x) || Number.isInteger(x)) return esc(show(v));
  const full = String(x), short = String(Number(x.toPrecision(4)));
  return short === full ? full : `<span class="fig" title="${full}" data-full="${full}">${short}</span>`;
}

export const viewOf = new Map(INDEX.views.map((v, i) => [v.key, i]));

// --- unpacking: the views wait gzipped until one is opened ---------------------
async function unpack(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}
// views are packed CHUNK to a script element (<script id="c<k>">), one JSON line each (page.py)
const chunks = new Map(), cache = new Map();
export async function payload(i) {
  if (!cache.has(i)) {
    const k = Math.floor(i / META.chunk);
    if (!chunks.has(k)) chunks.set(k, unpack(document.getElementById("c" + k).textContent).then((b) => new TextDecoder().decode(b).split("\n")));
    cache.set(i, JSON.parse((await chunks.get(k))[i % META.chunk]));
  }
  return cache.get(i);
}
// the tables, filled once `ready` resolves
export const T = {};
const TYPES = { data: Float64Array, grad: Float64Array, local: Float64Array, flow: Float64Array };
const tableNames = Object.keys(INDEX.tables);
const packed = [INDEX.nodeView, INDEX.nodeScope, INDEX.links, ...INDEX.order, ...tableNames.map((k) => INDEX.tables[k])];
export const ready = Promise.all(packed.map(unpack)).then(([a, b, c, f, g, ...cols]) => {
  T.nodeView = new Int32Array(a);
  T.nodeScope = new Int32Array(b);
  T.links = new Int32Array(c);
  // the player's order (tracer/model/order.py): node at each position, and each node's position
  [T.fwd, T.bwd] = [new Int32Array(f), new Int32Array(g)];
  [T.fpos, T.bpos] = [new Int32Array(N), new Int32Array(N)];
  for (let i = 0; i < N; i++) { T.fpos[T.fwd[i]] = i; T.bpos[T.bwd[i]] = i; }
  tableNames.forEach((k, i) => (T[k] = new (TYPES[k] || Int32Array)(cols[i])));
});
// the edges of node n: [other node, local_grad, grad_flow, multiplicity]
const edge = (i, other) => [other, T.local[i], T.flow[i], INDEX.mult[i]];
export function operands(n) {
  const out = [];
  for (let i = T.inStart[n]; i < T.inStart[n + 1]; i++) out.push(edge(i, T.eu[i]));
  return out;
}
export function users(n) {
  const out = [];
  for (let j = T.outStart[n]; j < T.outStart[n + 1]; j++) {
    const i = T.outOrder[j];
    let v = 0, hi = N; // the result of edge i: the v with inStart[v] <= i < inStart[v + 1]
    while (hi - v > 1) { const mid = (v + hi) >> 1; if (T.inStart[mid] <= i) v = mid; else hi = mid; }
    out.push(edge(i, v));
  }
  return out;
}
