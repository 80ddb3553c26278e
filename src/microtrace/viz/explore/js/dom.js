// The page's few DOM helpers: an element by selector, the three areas the graph lives in, text made
// safe for HTML, a link to a node, a line of news under the search box.
export const $ = (sel) => document.querySelector(sel);
export const stage = $("#stage");
export const canvas = $("#canvas");
export const list = $("#list");
export const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
export const nodeLink = (n) => `<a href="#" data-node="${n}">#${n}</a>`;
export function say(text) {
  $("#found").textContent = text;
}
