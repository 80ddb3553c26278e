// Search: a node id, a parameter entry (wte[3,5]), a scope path or a source line opens the view that
// holds it and selects it.
import { $, esc, say } from "./dom.js";
import { INDEX, N, T, num, ready, viewOf } from "./data.js";
import { S } from "./state.js";
import { open, select } from "./view.js";

export async function goNode(n) {
  await ready;
  if (!(n >= 0 && n < N)) return say(`no node ${n} (ids 0..${N - 1})`);
  const i = T.nodeView[n];
  if (i < 0) return say(`node ${n} is drawn inside its operation (a constant)`);
  await open(i, { select: n });
  say(`node #${n} in ${INDEX.views[i].label}`);
}
export async function search(q) {
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
    if (n === undefined) return say(unread(name, p, `${m[2]},${m[3]}`));
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
  $("#found").innerHTML = hits.length ? "did you mean: " + hits.map(([v, i]) => `<a href="#" data-view="${i}">${esc(v.label)}</a>`).join(", ") : `nothing matches ${esc(q)}`;
}
// An entry no node holds: the forward pass does not read it, so its gradient is 0; Adam's momentum from
// the steps before may still move it, by what the trace records (moved_without_grad)
function unread(name, p, rc) {
  const what = `${name}[${rc}]: no gradient this step (the forward pass does not read it; ${p.shape.join("×")} matrix)`;
  if (!INDEX.meta.update) return `${what}; this trace has no update`;
  if (p.moved === null) return `${what}; the update may still move it by its momentum: this trace does not record by how much`;
  const mv = p.moved[rc];
  if (!mv) return `${what}; the update does not move it either`;
  const short = (x) => String(Number(num(x).toPrecision(4))).replace("-", "−");
  return `${what}; the update still moves it by ${short(num(mv[1]) - num(mv[0]))} (${short(mv[0])} → ${short(mv[1])})`;
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
  if (!a) return;
  e.preventDefault();
  open(+a.dataset.view);
});
