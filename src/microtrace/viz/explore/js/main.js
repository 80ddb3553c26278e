// The start, run last: the title, the compare box, the handle for scripts and benchmarks, then the
// view the URL names (or the block view).
import { $ } from "./dom.js";
import { END, META, T, ready } from "./data.js";
import { S } from "./state.js";
import { open, select } from "./view.js";
import { search } from "./search.js";
import { pathFrom } from "./inspector.js";
import { setupCompare } from "./compare.js";
import { pace, seek, timeAtOps } from "./player.js";
import { loadHash } from "./hash.js";
import "./lod.js";
import "./input.js";

$("#title").textContent = META.heading;
setupCompare();
// for scripts and bench/ (the tests read state here, and act with the mouse and the keys as people do)
window.explorer = { open, search, seek, select, pathFrom, order: () => [[...T.fwd], [...T.bwd]], timeAtOps, opsAt: (t) => pace()[t], state: S, ready, END };
ready.then(loadHash);
