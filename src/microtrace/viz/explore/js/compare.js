// A second trace (--compare): the box that names the first difference, and node colours by the ratio of
// gradients or values.
import { $, esc } from "./dom.js";
import { INDEX, figure } from "./data.js";
import { S, on, setColour } from "./state.js";
import { goNode } from "./search.js";

export function setupCompare() {
  const c = INDEX.compare;
  if (!c) return;
  const box = $("#compare");
  box.hidden = false;
  const count = (n) => n.toLocaleString("en-US");
  // nodes are paired by what they are (a parameter entry; a scope, op and order), never by id; two steps
  // that read different documents compute different things at the same place: only parameters pair then
  const sizes = `${count(c.nodes[0])} nodes here, ${count(c.nodes[1])} there (${esc(c.view)})`;
  const pairing = c.only
    ? `<p class="warn">${esc(c.only[0].toUpperCase() + c.only.slice(1))}: ${sizes}. The same place computes different things in each, so only the parameters are paired, entry by entry (${count(c.paired)} of them), and the groups by their statistics; nodes are not.</p>`
    : `<p>${sizes}; ${count(c.paired)} paired by what they are (a parameter by its entry, any other node by its scope, op and order).</p>`;
  const f = c.first;
  const where = (f) => (f.node === null ? esc(f.name) : `<a href="#" data-node="${f.node}">${esc(f.name)}</a>`);
  const first = f === null ? "none: every pair is equal" : `${where(f)} (${esc(f.what)}: ${figure(f.this)} here, ${figure(f.other)} there)`;
  const rows = c.matrices.map(([k, g1, g2]) => `<tr><td>${esc(k)}</td><td>${figure(g1)}</td><td>${figure(g2)}</td></tr>`).join("");
  box.innerHTML =
    `<h3>compared with step ${c.step} “${esc(c.doc)}”, loss ${figure(c.loss)}</h3>` + pairing +
    `<label>colour: <select id="colour"><option value="grad">|grad| (this step)</option><option value="gratio">gradient ratio other / this</option><option value="vratio">value ratio other / this</option><option value="other">|grad| of the other step (this step's scale)</option></select></label>` +
    `<p id="scale">ratio colours: <span style="color:#2166ac">■</span> smaller there · white equal · <span style="color:#b2182b">■</span> larger there (log, ±${c.decades} decades)</p>` +
    `<p id="first-diff">first difference: ${first}</p>` +
    `<label class="split-toggle"><input type="checkbox" id="split-on"> split view: the two steps side by side, one camera</label>` +
    `<table id="matrices"><tr><th>matrix</th><th>‖grad‖ here</th><th>there</th></tr>${rows}</table>`;
  $("#colour").value = S.colour;
  box.addEventListener("change", (e) => e.target.id === "colour" && setColour(e.target.value));
  box.addEventListener("click", (e) => {
    const n = e.target.closest("a[data-node]");
    if (!n) return;
    e.preventDefault();
    goNode(+n.dataset.node);
  });
}
// WCAG's relative luminance of #rrggbb, and the ink of better contrast on it
const luminance = (hex) => {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
export const NONE = "#e4e4e4"; // the fill of a box the other step has no such node for
export const inkOn = (fill) => (/^#[0-9a-f]{6}$/i.test(fill) && (luminance(fill) + 0.05) / 0.05 < 1.05 / (luminance(fill) + 0.05) ? "#ffffff" : "#141414");
function applyColour() {
  if (!S.data || !S.data.layout) return;
  const cmp = S.data.cmp || {};
  for (const [name, g] of S.items) {
    const shape = g.classList.contains("node") && g.querySelector("polygon, path, rect, ellipse");
    if (!shape) continue;
    if (shape.dataset.fill === undefined) shape.dataset.fill = shape.getAttribute("fill");
    const c = cmp[name];
    const fill = S.colour === "grad" || !INDEX.compare ? shape.dataset.fill : c ? c[{ gratio: 0, vratio: 1, other: 2 }[S.colour]] : S.colour === "other" ? NONE : "#ffffff";
    shape.setAttribute("fill", fill);
    // its words in whichever of near-black and white stands out more on the new fill (white vanished on pale ratios)
    for (const t of g.querySelectorAll(":scope > text")) {
      if (t.dataset.ink === undefined) t.dataset.ink = t.getAttribute("fill");
      t.setAttribute("fill", fill === shape.dataset.fill ? t.dataset.ink : inkOn(fill));
    }
  }
  // the drawing's legend is of |grad|: faded while the boxes show a ratio (its scale is in the compare box)
  const legend = S.items.get("legend");
  if (legend) legend.style.opacity = S.colour === "grad" || S.colour === "other" || !INDEX.compare ? "" : "0.3";
}
on("drawn", applyColour);
on("colour", () => {
  applyColour();
  // the scale in use: the drawing's own legend is of |grad|; the ratio scale is said here, in bold
  $("#scale")?.classList.toggle("in-use", S.colour === "gratio" || S.colour === "vratio");
  if ($("#colour") && $("#colour").value !== S.colour) $("#colour").value = S.colour;
});
