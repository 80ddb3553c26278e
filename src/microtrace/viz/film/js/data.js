// The film's data (page.py: build_film), parsed once; numbers that JSON cannot spell come as strings.
const D = JSON.parse(document.getElementById("film").textContent);
const F = D.frames;
const SVGNS = "http://www.w3.org/2000/svg";

function num(x) {
  if (typeof x === "number") return x;
  if (x === "nan") return NaN;
  if (x === "inf") return Infinity;
  if (x === "-inf") return -Infinity;
  return null;
}

// A number as a short text: 3 significant digits, exponent form outside 1e-3 .. 1e4 (numfmt.short).
function short(x) {
  x = num(x);
  if (x === null) return "–";
  if (!isFinite(x)) return isNaN(x) ? "nan" : (x > 0 ? "inf" : "-inf");
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? String(Number(x.toPrecision(3))) : x.toExponential(1);
}

function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;  // always text, never markup: names and documents may hold anything
  return e;
}

// Text that changed only: a text node rewritten is laid out (and its glyphs shaped) again even when it
// says the same, and most of a frame's texts (the positions' labels, the predictions' characters) do.
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

// An embedded explorer page: gzip + base64 in a script element, unpacked when first opened.
async function explorerPage(step) {
  const b64 = document.getElementById("explorer-" + step).textContent;
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

// The frame whose step is `step`, else the last one before it (else the first).
function frameAt(step) {
  let best = 0;
  F.forEach((f, i) => { if (f.step <= step) best = i; });
  return best;
}
