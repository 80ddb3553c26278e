"""Watching a script's autograd class: count its `backward()` calls, record the nodes of one step.

Nothing about the class's arithmetic changes. Its `backward` is wrapped from the moment the class is
made (one extra call per step); its `__init__` only while step K is being recorded, so the steps
before K run at the script's own speed. A recorded node keeps the place it was made: the source line,
and the scope built from the stack of the script's own functions and microGPT's loop variables.
"""

import os
import re
import sys
import time

from microtrace.tracer.capture import autograd, conventions


class Stop(BaseException):
    """Raised inside the script to end it: step K is recorded (BaseException: `except Exception` in
    the script does not catch it)."""


class Unrecognised(BaseException):
    """backward() was called on an object of no known autograd shape."""


class NotReal(BaseException):
    """A node holds something that is not a real number (BaseException: the script cannot catch it)."""


class Observer:
    """The state of one traced run. `step` is the 0-based backward() call to record."""

    def __init__(self, step, folder, module_code, on_step):
        self.step = step
        self.on_step = on_step  # called with step K's loss; True: let the script go on to its update
        self.folder = os.path.join(os.path.realpath(folder), "")
        self.module_code = module_code
        # when it began, each backward() returned, it reached step K and recorded it (for bench/)
        self.clock = {"start": time.perf_counter(), "backward": []}
        self.calls = 0  # backward() calls that have returned
        self.depth = 0  # > 0 inside a backward() (a backward calling backward is one step)
        self.patched = []  # (class, attribute, original or None)
        self.candidates = []  # classes with backward() and arithmetic
        self.codes = set()  # ids of the code objects of those classes' methods
        self.recording = False
        # recorded nodes; (scope, source, method, detail) of each: the class method that made it, and
        # __pow__'s exponent, or for a node made outside the class's methods the function that made it
        self.nodes, self.sites = [], []
        self.loss = None
        self.done = False  # step K's backward() has returned
        self.cls = self.style = None
        self.names = {}  # convention kind -> the variable it was read from
        self.frames = []  # the script's frames at step K's backward(), innermost first
        self.loop_codes = set()  # ids of the code objects of the functions that call backward()
        self.loop_names = []  # their names, outermost first, where they are in the scopes (step 0)
        self._own = {}  # filename -> whether it is the script's own code
        self._plans = {}  # id(code) -> conventions.frame_plan(code)
        self._sources = {}  # (filename, line, function) -> source dict
        # id(frame) -> (frame, moves, plan, outer parts, seen, function, line, scope, source)
        self._frames = {}

    # -- the class -------------------------------------------------------------------------------------

    def class_made(self, cls):
        """Called with every class the script makes; wraps the ones that may be autograd classes."""
        if "backward" not in vars(cls) or not autograd.is_candidate(cls):
            return
        self.candidates.append(cls)
        self.codes.update(id(c) for c in autograd.class_codes(cls))
        self._wrap_backward(cls)
        if self.recording or self.step == 0:
            self.recording = True
            self._wrap_init(cls)

    def _wrap_backward(self, cls):
        original = vars(cls)["backward"]
        observer = self

        def backward(node, *args, **kwargs):
            if observer.depth:
                return original(node, *args, **kwargs)
            observer.before_backward(node)
            observer.depth += 1
            try:
                result = original(node, *args, **kwargs)
            finally:
                observer.depth -= 1
            observer.after_backward(node)
            return result

        backward.__wrapped__ = original
        self.patched.append((cls, "backward", original))
        cls.backward = backward

    def _wrap_init(self, cls):
        """Record every node the class makes from now on, with where it was made (one call: this
        runs for every node of step K)."""
        if any(c is cls and a == "__init__" for c, a, _ in self.patched):
            return
        original = vars(cls).get("__init__")
        base = cls.__init__
        observer, codes, frames = self, self.codes, self._frames
        add_node, add_site, getframe = self.nodes.append, self.sites.append, sys._getframe

        def __init__(node, *args, **kwargs):
            base(node, *args, **kwargs)
            if observer.done:  # the first node after step K: the next step has begun, the update is made
                raise Stop
            add_node(node)
            # The frame that made the node, past the class's own methods (`__sub__` -> `__add__`).
            f = getframe(1)
            method = exponent = None
            if id(f.f_code) not in codes:  # made by a function of the script's (a custom op): its name
                exponent = f.f_code.co_name
            else:
                code = f.f_code
                method = code.co_name
                if method == "__pow__" and code.co_argcount > 1:
                    exponent = f.f_locals.get(code.co_varnames[1])
                f = f.f_back
                while id(f.f_code) in codes:
                    f = f.f_back
            # While a frame of the script is alive, the frames around it wait: their part of the
            # scope stays as it was; only this frame's line and its own loop variables can change.
            entry = frames.get(id(f))
            if entry is None or entry[0] is not f:
                entry = observer._enter(f)
                if entry is False:
                    add_site((*observer._slow(f), method, exponent))
                    return
            if entry[1]:
                add_site((*observer._inner(f, entry[2], entry[3], dict(entry[4]), entry[5]), method, exponent))
            elif f.f_lineno == entry[6]:
                add_site((entry[7], entry[8], method, exponent))
            else:
                add_site((entry[7], observer._relined(f, entry), method, exponent))

        self.patched.append((cls, "__init__", original))
        cls.__init__ = __init__

    def restore(self):
        """Put every wrapped method back (the script's classes are left as they were made)."""
        for cls, attr, original in reversed(self.patched):
            if original is None:
                delattr(cls, attr)
            else:
                setattr(cls, attr, original)
        self.patched.clear()

    # -- steps -----------------------------------------------------------------------------------------

    def before_backward(self, node):
        """Called as backward() begins (a gradient check reads step K's loss here)."""

    def after_backward(self, node):
        self.clock["backward"].append(time.perf_counter())
        if self.done:  # a backward after step K: whatever update there was has been made
            raise Stop
        if self.style is None:
            self.style = autograd.style_of(node)
            self.cls = type(node)
            if self.style is None:
                raise Unrecognised(node)
        k = self.calls
        self.calls += 1
        if k == self.step - 1:
            self.clock["reached"] = time.perf_counter()
            self.loop_codes = {id(f.f_code) for f in self._chain(sys._getframe(2))}
            self.recording = True
            for cls in self.candidates:
                self._wrap_init(cls)
        elif k == self.step:
            self.loss = node
            self.frames = self._chain(sys._getframe(2))  # where the script keeps its things at step K
            if not self.loop_codes:  # step 0: the training loop was not known while its nodes were made
                self.loop_names = [
                    _plain(f.f_code.co_name) for f in reversed(self.frames) if f.f_code is not self.module_code
                ]
            self.done = True
            go_on = self.on_step(node)
            self.clock["recorded"] = time.perf_counter()
            if not go_on:
                raise Stop

    # -- provenance ------------------------------------------------------------------------------------

    def own(self, filename):
        own = self._own.get(filename)
        if own is None:
            real = os.path.realpath(filename)
            own = self._own[filename] = real.startswith(self.folder) and "site-packages" not in real
        return own

    def plan(self, code):
        plan = self._plans.get(id(code))
        if plan is None:
            plan = self._plans[id(code)] = conventions.frame_plan(code)
        return plan

    def _chain(self, frame):
        """The script's own frames from `frame` out to the script's module level, innermost first."""
        chain, f, module_code = [], frame, self.module_code
        while f is not None:
            code = f.f_code
            if self.own(code.co_filename) and id(code) not in self.codes:
                chain.append(f)
            if code is module_code:
                break
            f = f.f_back
        return chain

    def _enter(self, frame):
        """The cache entry of a script frame (False for a frame outside the script's own code)."""
        chain = self._chain(frame)
        if not chain or chain[0] is not frame:
            return False
        if len(self._frames) > 256:
            self._frames.clear()
        outer, seen = self._walk(chain[1:], parts=True)
        plan = self.plan(frame.f_code)
        function = self._function_of(chain)
        scope, source = self._inner(frame, plan, outer, dict(seen), function)
        moves = bool(plan[0] or plan[1])  # its own loop variables: read at every node
        entry = self._frames[id(frame)] = (frame, moves, plan, outer, seen, function, frame.f_lineno, scope, source)
        return entry

    def _relined(self, frame, entry):
        """The source of a frame whose line moved on; the entry remembers the new line."""
        source = self._source_of(frame, entry[5])
        self._frames[id(frame)] = (*entry[:6], frame.f_lineno, entry[7], source)
        return source

    def _slow(self, frame):
        """Scope and source of a node made outside the script's own code (a library it calls)."""
        chain = self._chain(frame)
        if not chain:
            return "script", None
        return self._walk(chain), self._source_of(chain[0], self._function_of(chain))

    def _walk(self, chain, parts=False):
        """Scope parts of `chain` (innermost first) and the conventions seen; or the joined scope."""
        out, seen = [], {}
        for f in reversed(chain):
            self._frame_parts(f, self.plan(f.f_code), out, seen)
        return (out, seen) if parts else "/".join(out) or "script"

    def _frame_parts(self, f, plan, out, seen):
        """Append a frame's part of the scope: its function's name (not the training loop's: the
        functions that call backward() hold the whole step) and the conventions it adds. The outermost
        value of a convention stands (a key loop `for t in ...` inside a position does not move it)."""
        name = plan[3]
        if not plan[2] and name != "<module>" and id(f.f_code) not in self.loop_codes:
            out.append(_plain(name))
        found = conventions.active(f, plan)
        for kind in conventions.PARTS:
            if kind in found and kind not in seen:
                var, value = found[kind]
                self.names.setdefault(kind, var)
                seen[kind] = value
                out.append(f"{kind}{value}")

    def _inner(self, frame, plan, outer, seen, function):
        parts = list(outer)
        self._frame_parts(frame, plan, parts, seen)
        return "/".join(parts) or "script", self._source_of(frame, function)

    def _function_of(self, chain):
        return next((f.f_code.co_name for f in chain if not self.plan(f.f_code)[2]), "<module>")

    def _source_of(self, frame, function):
        key = (frame.f_code.co_filename, frame.f_lineno, function)
        source = self._sources.get(key)
        if source is None:
            rel = os.path.relpath(os.path.realpath(key[0]), self.folder)
            source = self._sources[key] = {"source": f"{rel}:{key[1]}", "function": function}
        return source


def _plain(name):
    """A function's name as a scope part: letters, digits, '_', '.', '-' (trace-format.md)."""
    return _NOT_PLAIN.sub("_", name)


_NOT_PLAIN = re.compile(r"[^A-Za-z0-9_.\-]")


def without_loop(scope, names):
    """`scope` without the training loop's functions `names` where it begins with them (conventions
    such as `pos3` between them stay)."""
    parts, out, i = scope.split("/"), [], 0
    for k, part in enumerate(parts):
        if i < len(names) and part == names[i]:
            i += 1
        elif _CONVENTION.fullmatch(part):
            out.append(part)
        else:
            out.extend(parts[k:])
            break
    return "/".join(out) or "script"


_CONVENTION = re.compile(r"(pos|layer|head)\d+")
