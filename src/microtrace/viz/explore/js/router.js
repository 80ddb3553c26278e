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
const CLEAR = 7, BEND = 30, SHARED = 16, BUNDLE = 0.6, SPREAD = 5, TIGHT = 2.5, ROOM = 3, GAP = 5, REACH = 24, ARROW = 6, NEAR = 12;
const FREE = -1, LANES = -2, E = 0, W = 1, N = 2, S = 3, STEP = [[1, 0], [-1, 0], [0, 1], [0, -1]]; // east, west, north, south
const r = (v) => Math.round(v * 10) / 10;

// each edge's path (points from its source's side to its reader's side), or null where none is found;
// `boxes`: name -> [x0, y0, x1, y1], every box drawn; `texts`: the clusters' labels; `edges`: [[tail,
// head]]; `tapped`: the readers the lanes' taps come into, each with its leftmost tap's x; `taken`: the
// lanes' paths (their corners), which the edges here cross but do not run along
export function route(boxes, texts, edges, tapped = new Map(), taken = []) {
  const ports = portsOf(boxes, texts, edges, tapped);
  // a label's wall as wide as a box's: a few points between a box's and a label's, an edge would run
  // there, under the label, on the others that do
  const walls = [...[...boxes.values()].map((b) => grow(b, CLEAR)), ...texts.map((b) => grow(b, CLEAR))];
  const grid = gridOf(walls, ports, taken);
  for (const path of taken) for (let k = 0; k + 1 < path.length; k++) claim(grid, path[k], path[k + 1]);
  const sources = [...new Set(edges.map(([t]) => t))].sort((a, b) => boxes.get(b)[3] - boxes.get(a)[3] || (a < b ? -1 : 1));
  const order = edges.map((e, k) => k).sort((a, b) => sources.indexOf(edges[a][0]) - sources.indexOf(edges[b][0]) || a - b);
  const paths = edges.map(() => null);
  for (const k of order) for (const end of ports[k].ends) {
    paths[k] = search(grid, ports[k].starts, end, sources.indexOf(edges[k][0]));
    if (paths[k]) break;
  }
  spread(paths, edges.map(([t]) => sources.indexOf(t)), [...boxes.values(), ...texts], taken);
  return paths;
}
const grow = ([x0, y0, x1, y1], d) => [x0 - d, y0 - d, x1 + d, y1 + d];

// where each edge may leave its source (the east side, low; or the bottom, towards a reader below) and
// where it comes in: a point of its own on its reader's top, where it comes straight down, so never under
// a cluster's label there (between a box and its cluster's label is a slit a few points high, where
// edges and the lanes' taps would run on one another) nor among the lanes' taps: on the widest part of
// the top that no label covers; those it cannot hold GAP apart come in from the west side (or the east,
// from sources on the right), above and below its middle (where the residual stream comes in, and goes
// out); and where no way leads to that point, the top's
// middle or the west side's. A reader above its source is entered at the bottom, as before.
function portsOf(boxes, texts, edges, tapped) {
  const into = new Map();
  edges.forEach(([t, h], k) => (into.get(h) || into.set(h, []).get(h)).push(k));
  const at = new Map();
  const centre = (k) => { const b = boxes.get(edges[k][0]); return [(b[0] + b[2]) / 2, -b[3]]; };
  for (const [h, ks] of into) {
    const [x0, y0, x1, y1] = boxes.get(h), inset = Math.min(4, (x1 - x0) / 8);
    ks.sort((a, b) => centre(a)[0] - centre(b)[0] || centre(a)[1] - centre(b)[1]);
    const above = ks.filter((k) => y1 < (boxes.get(edges[k][0])[1] + boxes.get(edges[k][0])[3]) / 2), under = ks.filter((k) => !above.includes(k));
    under.forEach((k, i) => at.set(k, [r(x0 + inset + ((x1 - x0 - 2 * inset) * (i + 0.5)) / under.length), S]));
    if (!above.length) continue;
    // the widest stretch of the top that no label over it (its wall, and room beside it) covers, left of the taps
    let spans = [[x0 + inset, tapped.has(h) ? Math.min(x1 - inset, tapped.get(h) - SPREAD) : x1 - inset]];
    for (const b of texts) if (b[1] < y1 + REACH && b[3] > y1 && b[0] < x1 && b[2] > x0) {
      const [c0, c1] = [b[0] - CLEAR - ROOM, b[2] + CLEAR + ROOM];
      spans = spans.flatMap(([a, z]) => [[a, Math.min(z, c0)], [Math.max(a, c1), z]]).filter(([a, z]) => z >= a);
    }
    const [label, hi] = spans.sort((u, w) => w[1] - w[0] - (u[1] - u[0]))[0] || [1, 0];
    const fit = hi >= label ? Math.floor((hi - label) / GAP) + 1 : 0;
    const mid = (y0 + y1) / 2, slots = [];
    for (let y = y1 - GAP; y > y0 + 2; y -= GAP) if (Math.abs(y - mid) > GAP) slots.push(r(y));
    // what the top cannot hold comes into a side: the west side's the leftmost sources' edges, the east
    // side's the rightmost's (the highest slot the farthest)
    const over = Math.max(0, above.length - fit), leftish = above.filter((k) => centre(k)[0] < (x0 + x1) / 2).length;
    const high = slots.filter((y) => y > mid); // the east side's lower half: where the box's own edges leave (its lanes, low)
    const west = Math.min(slots.length, over, Math.max(leftish, over - high.length)), east = Math.min(high.length, over - west);
    above.slice(0, west).forEach((k, i) => at.set(k, [slots[i], E]));
    above.slice(above.length - east).reverse().forEach((k, i) => at.set(k, [high[i], W]));
    const top = above.slice(west, above.length - east);
    const [lo, up] = hi >= label ? [label, hi] : [x0 + inset, x1 - inset]; // no room: as before
    top.forEach((k, i) => at.set(k, [r(top.length === 1 ? (lo + up) / 2 : lo + ((up - lo) * i) / (top.length - 1)), N]));
  }
  return edges.map(([t, h], k) => {
    const [a0, b0, a1, b1] = boxes.get(t), [c0x, c0, , c1] = boxes.get(h), [v, side] = at.get(k), below = side !== S;
    const out = r(b0 + Math.min(6, (b1 - b0) / 4)), beneath = r(a0 + ((a1 - a0) * 3) / 4);
    const starts = [[[a1, out], [a1 + CLEAR, out], E]];
    if (below) starts.push([[beneath, b0], [beneath, b0 - CLEAR], S]);
    const west = (y) => [[c0x - CLEAR, y], [c0x, y], [E, N, S]], top = (x) => [[x, c1 + CLEAR], [x, c1], [S]];
    const east = (y) => [[boxes.get(h)[2] + CLEAR, y], [boxes.get(h)[2], y], [W, N, S]];
    const end = side === E ? west(v) : side === W ? east(v) : side === N ? top(v) : [[v, c0 - CLEAR], [v, c0], [N]];
    // where no way leads to that point (a small reader under a label), its top's middle, its west side's
    // (each at a height of its own on the sides: a small scalar's reads all came in at one point)
    const ks = into.get(h), i = ks.indexOf(k), x = r((c0x + boxes.get(h)[2]) / 2), y = r(c1 - ((c1 - c0) * (i + 1)) / (ks.length + 1));
    return { starts, ends: side === S ? [end] : [end, top(x), west(y), east(y)] };
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
  for (const { starts, ends } of ports) for (const [, [x, y]] of [...starts, ...ends]) { xs.add(r(x)); ys.add(r(y)); }
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

// the stretches of the grid along a path's straight stretch from `a` to `b`, and beside it nearer than
// SPREAD, for `who`: a lane's (LANES) take them all, as costly as another source's; an edge's those no
// one has taken (another source that would run there pays for it, so it goes beside, not on it)
function claim(g, a, b, who = LANES) {
  const { X, Y, nx, owner } = g, axis = a[0] === b[0] ? 0 : a[1] === b[1] ? 1 : -1;
  if (axis < 0) return;
  const [C, L] = axis === 0 ? [X, Y] : [Y, X], c = a[axis], lo = Math.min(a[1 - axis], b[1 - axis]), hi = Math.max(a[1 - axis], b[1 - axis]);
  const mine = owner[1 - axis];
  for (let i = 0; i < C.length; i++) if (Math.abs(C[i] - c) < SPREAD) {
    for (let j = 0; j + 1 < L.length; j++) if (L[j] < hi && L[j + 1] > lo) {
      const seg = axis === 0 ? j * nx + i : i * nx + j;
      if (who === LANES || mine[seg] === FREE) mine[seg] = who;
    }
  }
}

// A* from a start to the end, over (point, heading): the length, a cost per turn, more on a stretch
// another source's edge took (less on one of its own source)
function search(g, starts, end, src) {
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
  // a goal no open stretch leads into (inside another box's clearance) is not searched for: a search
  // that fails has looked at the whole grid
  const gi = goal % nx, gj = (goal / nx) | 0;
  const into = (e) => { const i = gi - STEP[e][0], j = gj - STEP[e][1]; return i >= 0 && j >= 0 && i < nx && j < ny && !(e < 2 ? h[gj * nx + Math.min(i, gi)] : v[Math.min(j, gj) * nx + gi]); };
  if (!end[2].some(into)) return null;
  for (const [, at, d] of starts) { const s = g.at(...at) * 4 + d; cost[s] = 0; seen[s] = now; from[s] = -1; push(guess(s >> 2), s); }
  let found = -1;
  while (F.length) {
    const f = F[0], s = pop(), p = s >> 2, d = s & 3, c = cost[s];
    if (f - guess(p) > c + 1e-9) continue; // a stale entry
    if (p === goal && end[2].includes(d)) { found = s; break; }
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
  for (; from[s] >= 0; s = from[s]) pts.push([X[(s >> 2) % nx], Y[((s >> 2) / nx) | 0]]);
  pts.push([X[(s >> 2) % nx], Y[((s >> 2) / nx) | 0]], starts.find(([, at, d]) => g.at(...at) * 4 + d === s)[0]);
  const path = corners(pts.reverse());
  for (let k = 0; k + 1 < path.length; k++) claim(g, path[k], path[k + 1], src);
  return path;
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

// Nudging, as orthogonal routers do after routing (libavoid, ELK): where stretches of different sources
// run on one line, or nearer than SPREAD, each source's gets a track of its own, SPREAD apart where the
// room between the boxes (and labels) beside them allows, never nearer than TIGHT; the lanes' stretches
// (`taken`) stay where they are and the others keep clear of them, and a source's edges keep one track
// (its bundle). A path's first and last stretch (its ports) stay, and the stretch before its last keeps
// the arrowhead's length from the reader.
function spread(paths, src, boxes, taken) {
  // one axis at a time, the runs read again from the paths: moving a vertical stretch lengthens the
  // horizontal ones at its ends, which may then come near another's
  for (const axis of [0, 1, 0, 1]) {
    const all = [];
    const add = (p, n, k, s, fixed) => {
      if (p[k][axis] !== p[k + 1][axis]) return;
      const a = Math.min(p[k][1 - axis], p[k + 1][1 - axis]), b = Math.max(p[k][1 - axis], p[k + 1][1 - axis]);
      if (b - a > 0.5) all.push({ axis, c: p[k][axis], a, b, n, k, s, fixed });
    };
    paths.forEach((p, n) => { if (p) for (let k = 0; k + 1 < p.length; k++) add(p, n, k, src[n], k === 0 || k === p.length - 2); });
    taken.forEach((p, n) => { for (let k = 0; k + 1 < p.length; k++) add(p, n, k, LANES, true); });
    all.sort((u, w) => u.c - w.c); // runs nearer than SPREAD that overlap, together
    const up = all.map((_, i) => i), top = (i) => (up[i] === i ? i : (up[i] = top(up[i])));
    for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length && all[j].c - all[i].c < SPREAD; j++) {
      const u = all[i], w = all[j];
      if (u.a < w.b - 0.5 && w.a < u.b - 0.5 && !(u.fixed && w.fixed)) up[top(i)] = top(j);
    }
    const groups = new Map();
    all.forEach((u, i) => (groups.get(top(i)) || groups.set(top(i), []).get(top(i))).push(u));
    for (const group of groups.values()) {
      const who = new Set(group.filter((u) => !u.fixed).map((u) => u.s));
      if (new Set(group.map((u) => u.s)).size > 1) apart(paths, group, [...who], boxes, all);
    }
  }
}
function apart(paths, group, who, boxes, all) {
  const axis = group[0].axis;
  // the room beside a stretch: between the nearest boxes (and labels) on either side of it
  const room = (u) => {
    let lo = -Infinity, hi = Infinity;
    for (const box of boxes) if (box[1 - axis] < u.b && box[3 - axis] > u.a) {
      if (box[2 + axis] <= u.c) lo = Math.max(lo, box[2 + axis] + ROOM);
      else if (box[axis] >= u.c) hi = Math.min(hi, box[axis] - ROOM);
    }
    return [lo, hi];
  };
  // each source's track keeps within the room beside each of its stretches, and the stretch before a
  // path's last keeps the arrowhead's length from the reader
  const tracks = who.map((s) => {
    const mine = group.filter((u) => !u.fixed && u.s === s);
    let l = -Infinity, h = Infinity;
    for (const u of mine) {
      const [lo, hi] = room(u);
      l = Math.max(l, lo); h = Math.min(h, hi);
      if (u.k === paths[u.n].length - 3) {
        const end = paths[u.n][paths[u.n].length - 1][axis];
        if (end < u.c) l = Math.max(l, end + ARROW + 1); else h = Math.min(h, end - ARROW - 1);
      }
    }
    return { s, mine, l, h, c: mine.reduce((t, u) => t + u.c, 0) / mine.length };
  }).sort((t, w) => t.c - w.c);
  for (const t of tracks) { // the nearest track to where it runs now that no other source's stretch is near
    const others = all.filter((w) => w.s !== t.s && t.mine.some((u) => w.a < u.b - 0.5 && u.a < w.b - 0.5));
    const at = free(t, others, SPREAD) ?? free(t, others, TIGHT); // SPREAD apart, or TIGHT where crowded
    if (at === undefined) continue;
    for (const u of t.mine) {
      u.c = at;
      const p = paths[u.n];
      p[u.k] = [...p[u.k]];
      p[u.k + 1] = [...p[u.k + 1]];
      p[u.k][axis] = p[u.k + 1][axis] = at;
    }
  }
}
// the line nearest to track `t`'s, within its bounds, `step` or more from every stretch of `others`
function free(t, others, step) {
  for (let d = 0; d <= 2 * NEAR; d++) {
    const at = r(t.c + (d % 2 ? 1 : -1) * Math.ceil(d / 2) * step);
    if (at >= t.l && at <= t.h && !others.some((w) => Math.abs(w.c - at) < step - 0.01)) return at;
  }
  return undefined;
}
