// Drawing: a view's compact layout (viz/explore/layout.py says what each array holds) decoded into
// absolute shapes (decode), written as SVG (render), and measured and moved (extent, moveShape).
import { esc } from "./dom.js";

const ANCHOR = { "-1": "start", 0: "middle", 1: "end" };
// a view's layout as items of absolute shapes, each paint and font already its SVG attributes
export function decode(L) {
  const paint = L.paints.map(([stroke, fill, width, dash]) =>
    ` fill="${fill}" stroke="${stroke}"` + (width !== 1 ? ` stroke-width="${width}"` : "") + (dash ? ` stroke-dasharray="${dash}"` : ""));
  const font = L.fonts.map(([size, bold, ink]) => ` font-size="${size}" fill="${ink}"` + (bold ? ' font-weight="bold"' : ""));
  const items = L.items.map(([kind, title, ...shapes]) => {
    let x = 0, y = 0; // each point is given from the one before it within an item
    return { kind, title, shapes: shapes.map((s) => {
      const a = [s[0] === "b" && L.paints[s[1]][1] !== "none" ? "B" : s[0], (s[0] === "t" ? font : paint)[s[1]], ...s.slice(2)];
      const end = "ret".includes(a[0]) ? 4 : a.length;
      for (let i = 2; i < end; i += 2) { x = a[i] += x; y = a[i + 1] += y; }
      return a;
    }) };
  });
  return { w: L.w, h: L.h, bg: L.bg, items };
}
function shapeSvg(s) {
  const [t, p] = s;
  if (t === "r") return `<rect${p} x="${s[2]}" y="${s[3]}" width="${s[4]}" height="${s[5]}"${s[6] ? ` rx="${s[6]}"` : ""}/>`;
  if (t === "e") return `<ellipse${p} cx="${s[2]}" cy="${s[3]}" rx="${s[4]}" ry="${s[5]}"/>`;
  if (t === "t") return `<text${p} x="${s[2]}" y="${s[3]}"${s[4] !== -1 ? ` text-anchor="${ANCHOR[s[4]]}"` : ""}>${esc(s[5])}</text>`;
  const xy = [];
  for (let i = 2; i < s.length; i += 2) xy.push(`${s[i]} ${s[i + 1]}`);
  if (t === "b" || t === "B") return `<path${p} d="M${xy[0]}C${xy.slice(1).join(" ")}${t === "B" ? "Z" : ""}"/>`;
  return `<${t === "p" ? "polygon" : "polyline"}${p} points="${xy.join(" ")}"/>`;
}
// a box or a cluster takes the keyboard's focus (Tab, arrows), named by what it says
function focusable(it) {
  if ((it.kind !== "node" && it.kind !== "cluster") || it.title === null || it.title === "legend") return "";
  const words = it.shapes.filter((s) => s[0] === "t").map((s) => s[5]).join(" ");
  return ` tabindex="0" role="button" aria-label="${esc(words || it.title)}"`;
}
export function render(M) {
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${(M.w * 4) / 3}" height="${(M.h * 4) / 3}" viewBox="0 0 ${M.w} ${M.h}">`, `<rect width="${M.w}" height="${M.h}" fill="${M.bg}"/>`];
  for (const it of M.items) out.push(`<g class="${it.kind}"${focusable(it)}>`, it.title === null ? "" : `<title>${esc(it.title)}</title>`, ...it.shapes.map(shapeSvg), "</g>");
  out.push("</svg>");
  return out.join("");
}
// the box of a list of shapes: [x0, y0, x1, y1]
export function extent(shapes) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const add = (x, y) => { b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y); b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y); };
  for (const s of shapes) {
    if (s[0] === "r") { add(s[2], s[3]); add(s[2] + s[4], s[3] + s[5]); }
    else if (s[0] === "e") { add(s[2] - s[4], s[3] - s[5]); add(s[2] + s[4], s[3] + s[5]); }
    else if (s[0] === "t") add(s[2], s[3]);
    else for (let i = 2; i < s.length; i += 2) add(s[i], s[i + 1]);
  }
  return b;
}
// every point of a shape moved by f(x, y) -> [dx, dy]; a box or an ellipse moves whole, by its centre
export function moveShape(s, f, corners) {
  if (s[0] === "r" && corners) {
    const [ax] = f(s[2], s[3]), [bx] = f(s[2] + s[4], s[3]), [, ay] = f(s[2], s[3]), [, by] = f(s[2], s[3] + s[5]);
    return ["r", s[1], s[2] + ax, s[3] + ay, s[4] + bx - ax, s[5] + by - ay, s[6]];
  }
  const out = s.slice();
  const end = "ret".includes(s[0]) ? 4 : s.length;
  for (let i = 2; i < end; i += 2) { const [dx, dy] = f(s[i], s[i + 1]); out[i] += dx; out[i + 1] += dy; }
  return out;
}
