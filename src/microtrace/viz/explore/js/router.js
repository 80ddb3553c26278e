// Edges the KV cache's lanes do not take, in right angles around the boxes, so that each can be followed:
// an edge into a group opened in place (it runs to the node inside that it touches), or a read whose
// lane a wide open group blocks. Graphviz's spline router drew them as one braid through labels and
// arrowheads, grazing boxes. Here each edge runs on the lines a clearance away from the boxes' sides
// (and the clusters' labels), found by A* with a cost per turn; it runs beside another source's edges
// rather than on them (a stretch shared costs more), while the edges of one source share their way as a
// bundle; where two sources still share a stretch, their lines are spread apart in the room there.
// An edge leaves its source's east side low (as a lane does) or its bottom, and comes down into its
// reader's top at a point of its own (the left half: the lanes' taps take the right half).
// Coordinates are Graphviz's: points, y up.
const CLEAR = 7, BEND = 30, SHARED = 16, BUNDLE = 0.6, SPREAD = 5, ROOM = 3;
const FREE = -1, LANES = -2, E = 0, N = 2, S = 3, STEP = [[1, 0], [-1, 0], [0, 1], [0, -1]]; // east, west, north, south
const r = (v) => Math.round(v * 10) / 10;

// each edge's path (points from its source's side to its reader's side), or null where none is found;
// `boxes`: name -> [x0, y0, x1, y1], every box drawn; `texts`: the clusters' labels; `edges`: [[tail,
// head]]; `tapped`: the readers whose top's right half the lanes' taps take; `taken`: the lanes' paths,
// which the edges here cross but do not run along
export function route(boxes, texts, edges, tapped = new Set(), taken = []) {
  const ports = portsOf(boxes, texts, edges, tapped);
  const walls = [...[...boxes.values()].map((b) => grow(b, CLEAR)), ...texts.map((b) => grow(b, 4))];
  const grid = gridOf(walls, ports, taken);
  for (const path of taken) for (let k = 0; k + 1 < path.length; k++) claim(grid, path[k], path[k + 1]);
  const sources = [...new Set(edges.map(([t]) => t))].sort((a, b) => boxes.get(b)[3] - boxes.get(a)[3] || (a < b ? -1 : 1));
  const order = edges.map((e, k) => k).sort((a, b) => sources.indexOf(edges[a][0]) - sources.indexOf(edges[b][0]) || a - b);
  const paths = edges.map(() => null);
  for (const k of order) paths[k] = search(grid, ports[k], sources.indexOf(edges[k][0]));
  spread(paths, edges.map(([t]) => sources.indexOf(t)), [...boxes.values(), ...texts]);
  return paths;
}
const grow = ([x0, y0, x1, y1], d) => [x0 - d, y0 - d, x1 + d, y1 + d];

// where each edge may leave its source (the east side, low; or the bottom, towards a reader below) and
// where it comes in (a point of its own on its reader's top, or bottom for a reader above: right of a
// cluster's label there, or on the left half of a reader the lanes tap on the right half)
function portsOf(boxes, texts, edges, tapped) {
  const into = new Map();
  edges.forEach(([t, h], k) => (into.get(h) || into.set(h, []).get(h)).push(k));
  const at = new Map();
  for (const [h, ks] of into) {
    const [x0, , x1, y1] = boxes.get(h), inset = Math.min(4, (x1 - x0) / 8);
    const label = Math.max(x0, ...texts.filter((b) => b[1] < y1 + CLEAR + 2 && b[3] > y1 && b[0] < x1 && b[2] > x0).map((b) => b[2] + 4));
    let lo = Math.min(label, (x0 + x1) / 2) + inset, hi = x1 - inset;
    if (tapped.has(h)) [lo, hi] = [x0 + inset, (x0 + x1) / 2 - 2];
    const centre = (k) => { const b = boxes.get(edges[k][0]); return [(b[0] + b[2]) / 2, -b[3]]; };
    ks.sort((a, b) => centre(a)[0] - centre(b)[0] || centre(a)[1] - centre(b)[1]);
    ks.forEach((k, i) => at.set(k, r(lo + ((hi - lo) * (i + 0.5)) / ks.length)));
  }
  return edges.map(([t, h], k) => {
    const [a0, b0, a1, b1] = boxes.get(t), [, c0, , c1] = boxes.get(h), x = at.get(k), below = c1 < (b0 + b1) / 2;
    const out = r(b0 + Math.min(6, (b1 - b0) / 4)), under = r(a0 + ((a1 - a0) * 3) / 4);
    const starts = [[[a1, out], [a1 + CLEAR, out], E]];
    if (below) starts.push([[under, b0], [under, b0 - CLEAR], S]);
    const end = below ? [[x, c1 + CLEAR], [x, c1], S] : [[x, c0 - CLEAR], [x, c0], N];
    return { starts, end };
  });
}

// the lines a path may run on (every wall's sides, every port's, and beside every lane's stretch, out
// of its way), and which stretches cross a wall
function gridOf(walls, ports, taken) {
  const xs = new Set(), ys = new Set();
  for (const [x0, y0, x1, y1] of walls) { xs.add(r(x0)); xs.add(r(x1)); ys.add(r(y0)); ys.add(r(y1)); }
  for (const path of taken) for (let k = 0; k + 1 < path.length; k++) for (const [axis, lines] of [[0, xs], [1, ys]]) {
    if (path[k][axis] === path[k + 1][axis]) for (const d of [-1.6, 1.6]) lines.add(r(path[k][axis] + d * SPREAD));
  }
  for (const { starts, end } of ports) for (const [, [x, y]] of [...starts, end]) { xs.add(r(x)); ys.add(r(y)); }
  const X = Float64Array.from(xs).sort(), Y = Float64Array.from(ys).sort(), nx = X.length, ny = Y.length;
  const h = new Uint8Array(nx * ny), v = new Uint8Array(nx * ny); // the stretch from a point east, north
  const index = (A, a) => { let lo = 0, hi = A.length; while (lo < hi) { const m = (lo + hi) >> 1; if (A[m] < a) lo = m + 1; else hi = m; } return lo; };
  for (const [x0, y0, x1, y1] of walls) {
    const i0 = index(X, r(x0)), i1 = index(X, r(x1)), j0 = index(Y, r(y0)), j1 = index(Y, r(y1));
    for (let j = j0 + 1; j < j1; j++) for (let i = i0; i < i1; i++) h[j * nx + i] = 1;
    for (let i = i0 + 1; i < i1; i++) for (let j = j0; j < j1; j++) v[j * nx + i] = 1;
  }
  const owner = [new Int32Array(nx * ny).fill(FREE), new Int32Array(nx * ny).fill(FREE)]; // who runs on each stretch
  const cost = new Float64Array(nx * ny * 4), from = new Int32Array(nx * ny * 4), seen = new Int32Array(nx * ny * 4);
  return { X, Y, nx, ny, h, v, owner, cost, from, seen, searches: 0, at: (x, y) => index(Y, r(y)) * nx + index(X, r(x)) };
}

// the stretches of the grid along a lane's straight stretch from `a` to `b` (nearer than SPREAD): as
// costly as another source's
function claim(g, a, b) {
  const { X, Y, nx, owner } = g, axis = a[0] === b[0] ? 0 : a[1] === b[1] ? 1 : -1;
  if (axis < 0) return;
  const [C, L] = axis === 0 ? [X, Y] : [Y, X], c = a[axis], lo = Math.min(a[1 - axis], b[1 - axis]), hi = Math.max(a[1 - axis], b[1 - axis]);
  for (let i = 0; i < C.length; i++) if (Math.abs(C[i] - c) < SPREAD) {
    for (let j = 0; j + 1 < L.length; j++) if (L[j] < hi && L[j + 1] > lo) owner[1 - axis][axis === 0 ? j * nx + i : i * nx + j] = LANES;
  }
}

// A* from a start to the end, over (point, heading): the length, a cost per turn, more on a stretch
// another source's edge took (less on one of its own source)
function search(g, { starts, end }, src) {
  const { X, Y, nx, ny, h, v, owner } = g, goal = g.at(...end[0]), gx = X[goal % nx], gy = Y[(goal / nx) | 0];
  // the costs so far, kept from one search to the next: a state's counts when it was reached in this one
  const { cost, from, seen } = g, now = ++g.searches, known = (s) => (seen[s] === now ? cost[s] : Infinity);
  const F = [], Q = []; // a binary heap of states (Q) by their cost and guess (F)
  const push = (f, s) => {
    let i = F.length;
    F.push(f); Q.push(s);
    for (let p = (i - 1) >> 1; i > 0 && F[p] > f; i = p, p = (i - 1) >> 1) { F[i] = F[p]; Q[i] = Q[p]; }
    F[i] = f; Q[i] = s;
  };
  const pop = () => {
    const s = Q[0], f = F.pop(), q = Q.pop(), n = F.length;
    if (n) {
      let i = 0;
      for (;;) {
        let m = 2 * i + 1;
        if (m >= n) break;
        if (m + 1 < n && F[m + 1] < F[m]) m++;
        if (F[m] >= f) break;
        F[i] = F[m]; Q[i] = Q[m]; i = m;
      }
      F[i] = f; Q[i] = q;
    }
    return s;
  };
  const guess = (p) => Math.abs(X[p % nx] - gx) + Math.abs(Y[(p / nx) | 0] - gy);
  for (const [, at, d] of starts) { const s = g.at(...at) * 4 + d; cost[s] = 0; seen[s] = now; from[s] = -1; push(guess(s >> 2), s); }
  let found = -1;
  while (F.length) {
    const f = F[0], s = pop(), p = s >> 2, d = s & 3, c = cost[s];
    if (f - guess(p) > c + 1e-9) continue; // a stale entry
    if (p === goal && d === end[2]) { found = s; break; }
    const i = p % nx, j = (p / nx) | 0;
    for (let e = 0; e < 4; e++) {
      if (e === (d ^ 1)) continue; // no turning back
      const i2 = i + STEP[e][0], j2 = j + STEP[e][1];
      if (i2 < 0 || j2 < 0 || i2 >= nx || j2 >= ny) continue;
      const seg = e < 2 ? j * nx + Math.min(i, i2) : Math.min(j, j2) * nx + i;
      if ((e < 2 ? h : v)[seg]) continue;
      const len = e < 2 ? Math.abs(X[i2] - X[i]) : Math.abs(Y[j2] - Y[j]), who = owner[e >> 1][seg];
      const c2 = c + len * (who === FREE ? 1 : who === src ? BUNDLE : who === LANES ? 2 * SHARED : SHARED) + (e === d ? 0 : BEND), s2 = (j2 * nx + i2) * 4 + e;
      if (c2 < known(s2)) { cost[s2] = c2; seen[s2] = now; from[s2] = s; push(c2 + guess(s2 >> 2), s2); }
    }
  }
  if (found < 0) return null;
  const pts = [end[1]];
  let s = found;
  for (; from[s] >= 0; s = from[s]) {
    const p = s >> 2, q = from[s] >> 2, e = s & 3;
    const seg = e < 2 ? ((p / nx) | 0) * nx + Math.min(p % nx, q % nx) : Math.min((p / nx) | 0, (q / nx) | 0) * nx + (p % nx);
    if (owner[e >> 1][seg] === FREE) owner[e >> 1][seg] = src;
    pts.push([X[p % nx], Y[(p / nx) | 0]]);
  }
  pts.push([X[(s >> 2) % nx], Y[((s >> 2) / nx) | 0]], starts.find(([, at, d]) => g.at(...at) * 4 + d === s)[0]);
  return corners(pts.reverse());
}
// the points where a path turns (and its ends)
function corners(pts) {
  const out = [pts[0]];
  for (let k = 1; k < pts.length - 1; k++) {
    const [a, b, c] = [out[out.length - 1], pts[k], pts[k + 1]];
    if ((a[0] === b[0] && b[0] === c[0]) || (a[1] === b[1] && b[1] === c[1])) continue;
    out.push(b);
  }
  out.push(pts[pts.length - 1]);
  return out;
}

// where edges of different sources run on one line, or nearer than SPREAD, their lines spread apart,
// in source order, within the room between the boxes (and labels) beside them; a path's first and last stretch
// (into its ports) stay
function spread(paths, src, boxes) {
  const runs = [[], []];
  paths.forEach((p, n) => {
    if (p) for (let k = 1; k + 2 < p.length; k++) {
      const axis = p[k][0] === p[k + 1][0] ? 0 : 1, a = Math.min(p[k][1 - axis], p[k + 1][1 - axis]), b = Math.max(p[k][1 - axis], p[k + 1][1 - axis]);
      runs[axis].push({ axis, c: p[k][axis], a, b, n, k });
    }
  });
  for (const all of runs) { // runs nearer than SPREAD that overlap, together
    const up = all.map((_, i) => i), top = (i) => (up[i] === i ? i : (up[i] = top(up[i])));
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) {
      const u = all[i], w = all[j];
      if (Math.abs(u.c - w.c) < SPREAD && u.a < w.b - 0.5 && w.a < u.b - 0.5) up[top(i)] = top(j);
    }
    const groups = new Map();
    all.forEach((u, i) => (groups.get(top(i)) || groups.set(top(i), []).get(top(i))).push(u));
    for (const group of groups.values()) {
      const who = [...new Set(group.map((u) => src[u.n]))].sort((a, b) => a - b);
      if (who.length > 1) apart(paths, group, who, src, boxes);
    }
  }
}
function apart(paths, group, who, src, boxes) {
  const axis = group[0].axis, c = group.reduce((t, u) => t + u.c, 0) / group.length;
  const a = Math.min(...group.map((u) => u.a)), b = Math.max(...group.map((u) => u.b));
  let lo = -Infinity, hi = Infinity;
  for (const box of boxes) if (box[1 - axis] < b && box[3 - axis] > a) { // beside the stretch
    if (box[2 + axis] <= c) lo = Math.max(lo, box[2 + axis] + ROOM);
    else if (box[axis] >= c) hi = Math.min(hi, box[axis] - ROOM);
  }
  const step = Math.min(SPREAD, (hi - lo) / (who.length - 1));
  if (!(step >= 1.5)) return;
  const half = (step * (who.length - 1)) / 2, mid = Math.min(Math.max(c, lo + half), hi - half);
  for (const u of group) {
    const at = mid - half + step * who.indexOf(src[u.n]), p = paths[u.n];
    p[u.k] = [...p[u.k]];
    p[u.k + 1] = [...p[u.k + 1]];
    p[u.k][axis] = p[u.k + 1][axis] = at;
  }
}
