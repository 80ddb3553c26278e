// The page's state, and its one owner: every other module reads S (writing to it throws) and changes
// it through the functions below, each of which tells the modules that listen (on) what changed.
//   view, data, model  the view on screen: its index, its payload, its drawing (model: draw.js's items)
//   items              the drawing's SVG groups by name; opened: the groups open in place, innermost last
//   sel                the selected item (a node id, or an item's name); hl: the highlighted paths
//   t, playing         the player's time (0 .. END) and whether it runs; colour: how boxes are filled
//   cam                the camera: translate (x, y), then scale k
//   trail              the dives that led here: [{view, name}], so that going up returns where one was
import { END } from "./data.js";

const state = { view: -1, data: null, model: null, items: new Map(), opened: [], sel: null, hl: [], t: END, playing: false, colour: "grad", cam: { x: 0, y: 0, k: 1 }, trail: [] };
export const S = new Proxy(state, {
  set: (_, key) => { throw new TypeError(`S.${String(key)} is changed only by state.js`); },
  deleteProperty: (_, key) => { throw new TypeError(`S.${String(key)} is changed only by state.js`); },
});

// what changed -> who wants to know, called in the order they asked
const listeners = new Map();
export function on(what, fn) {
  if (!listeners.has(what)) listeners.set(what, []);
  listeners.get(what).push(fn);
}
function tell(what) {
  for (const fn of listeners.get(what) || []) fn();
}

// a new view: its drawing follows (drawn); nothing is open in place in it yet
export function setView(i, data, model) {
  Object.assign(state, { view: i, data, model, opened: [] });
}
// the drawing changed in place (a group opened or closed): its model and the data it shows
export function setDrawing(model, data, opened) {
  Object.assign(state, { model, data, opened });
}
// the drawing is in the page: its items by name; colours, paths, player and selection are applied again
export function drawn(items) {
  state.items = items;
  tell("drawn");
}
export function setSel(name) {
  state.sel = name === undefined ? null : name;
  tell("sel");
}
export function setPaths(hl) {
  state.hl = hl;
  tell("paths");
}
export function setTime(t) {
  state.t = Math.max(0, Math.min(END, t));
  tell("time");
}
export function setPlaying(playing) {
  state.playing = playing;
  tell("playing");
}
export function setColour(colour) {
  state.colour = colour;
  tell("colour");
}
export function setCam(cam) {
  state.cam = cam;
  tell("cam");
}
export function setTrail(trail) {
  state.trail = trail;
}
