// A second trace (--compare): the box that names the first difference, and node colours by the ratio of
// gradients or values.
import { $, esc, nodeLink } from "./dom.js";
import { INDEX, figure } from "./data.js";
import { S, on, setColour } from "./state.js";
import { goNode } from "./search.js";

export function setupCompare() {
  const c = INDEX.compare;
  if (!c) return;
  const box = $("#compare");
  box.hidden = false;
  const f = c.first;
  const first = f === null ? "none: the two traces are identical" : `node ${nodeLink(f.node)} (${esc(f.what)}: ${figure(f.this)} here, ${figure(f.other)} there)`;
  box.innerHTML =
    `<h3>compared with step ${c.step} “${esc(c.doc)}”, loss ${figure(c.loss)}</h3>` +
    `<label>colour: <select id="colour"><option value="grad">|grad| (this step)</option><option value="gratio">gradient ratio other / this</option><option value="vratio">value ratio other / this</option></select></label>` +
    `<p>ratio colours: <span style="color:#2166ac">■</span> smaller there · white equal · <span style="color:#b2182b">■</span> larger there (log, ±${c.decades} decades)</p>` +
    `<p id="first-diff">first difference: ${first}</p>`;
  $("#colour").value = S.colour;
  box.addEventListener("change", (e) => setColour(e.target.value));
  box.addEventListener("click", (e) => {
    const n = e.target.closest("a[data-node]");
    if (!n) return;
    e.preventDefault();
    goNode(+n.dataset.node);
  });
}
function applyColour() {
  if (!S.data || !S.data.layout) return;
  const cmp = S.data.cmp || {};
  for (const [name, g] of S.items) {
    const shape = g.classList.contains("node") && g.querySelector("polygon, path, rect, ellipse");
    if (!shape) continue;
    if (shape.dataset.fill === undefined) shape.dataset.fill = shape.getAttribute("fill");
    const c = cmp[name];
    const fill = S.colour === "grad" || !INDEX.compare ? shape.dataset.fill : c ? c[S.colour === "gratio" ? 0 : 1] : "#ffffff";
    shape.setAttribute("fill", fill);
  }
}
on("drawn", applyColour);
on("colour", () => {
  applyColour();
  if ($("#colour") && $("#colour").value !== S.colour) $("#colour").value = S.colour;
});
