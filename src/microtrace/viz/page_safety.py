"""What makes a page that no string can break: data embedded in a script element, links, and the
Content-Security-Policy of the report, the explorer and the film page.

An HTML parser ends a script element at `</script`, and `<!--` followed by `<script` puts it in a state
where the next `</script>` no longer ends it (the page's own code is then swallowed as text). Neither can
happen if the embedded text has no `<` at all: `script_json` writes every `<` (and `>`, `&`, and the line
separators U+2028/U+2029 that older JavaScript reads as line ends) as a JSON escape, which every JSON
reader turns back into the same character.

`seal` fills a page's policy in after the page is written: each inline script that runs is allowed by the
sha256 of its exact text, so the policy needs no `'unsafe-inline'` for scripts, and a script injected
into the page (which has no matching hash) never runs.
"""

import base64
import hashlib
import re
from urllib.parse import urlsplit

from microtrace.util.errors import BadInput

# The characters that could end or open a script element, or end a line in old JavaScript.
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_UNSAFE = re.compile("[<>&\u2028\u2029]")

# Where a page writes its policy: the one placeholder `seal` replaces.
CSP_PLACEHOLDER = "{{content-security-policy}}"
# An inline script the browser runs: no type, or a JavaScript one (data scripts are never run).
_RUNNABLE = re.compile(r"<script((?:\s+type=\"(?:module|text/javascript)\")?)>(.*?)</script>", re.S | re.IGNORECASE)


class UnsafeLink(BadInput):
    """A link that is neither http(s) nor a relative path (`javascript:`, `data:`, `file:`, ...)."""


def script_json(json_text: str) -> str:
    """JSON text made safe to put between <script> and </script>: the same value once parsed."""
    return _UNSAFE.sub(lambda m: _SCRIPT_ESCAPES[m.group(0)], json_text)


def checked_link(href: str) -> str:
    """`href` if it is an http(s) URL or a relative path; UnsafeLink otherwise. Read as a browser reads
    it: leading spaces and controls dropped, tabs and newlines removed anywhere (`java\\tscript:` is
    `javascript:`), and a backslash taken for a slash (`\\\\host` is `//host`, another site)."""
    seen = re.sub(r"[\t\n\r]", "", href).lstrip("".join(map(chr, range(0x21)))).replace("\\", "/")
    if any(ord(c) < 0x20 or c == "\x7f" for c in seen):
        raise UnsafeLink(f"link {href!r}: control characters are not allowed in a link")
    try:
        scheme = urlsplit(seen).scheme.lower()
    except ValueError:  # an address Python cannot split (an unclosed [IPv6]) is no link to trust
        scheme = None
    if scheme not in ("", "http", "https") or seen.startswith("//"):
        raise UnsafeLink(f"link {href!r}: only http(s) addresses and relative paths are allowed")
    return href


def script_hash(text: str) -> str:
    """The CSP source that allows exactly the inline script `text`: `'sha256-<base64>'`."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def policy(scripts=(), wasm=False) -> str:
    """The Content-Security-Policy of a page that makes no request of any kind: only its own inline
    scripts (`scripts`, their texts) run, styles are inline, images are data: URLs; with `wasm`, the
    scripts may compile WebAssembly they carry (the explorer's Graphviz), and nothing else more."""
    script_src = " ".join(script_hash(s) for s in scripts) or "'none'"
    if wasm:
        script_src += " 'wasm-unsafe-eval'"
    return (
        f"default-src 'none'; script-src {script_src}; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def seal(page: str, framed=(), wasm=False) -> str:
    """`page` with its policy written at the first CSP_PLACEHOLDER (the page's own, in its <head>, before
    any data: a document may hold the same characters), allowing each inline script it runs by hash, and
    those of the `framed` pages it shows in an <iframe srcdoc> (which run under their parent's policy as
    well as their own). Call it last, on the finished page: a script changed after this would not run."""
    if CSP_PLACEHOLDER not in page:
        raise ValueError("a page to seal needs a Content-Security-Policy placeholder in its <head>")
    scripts = [m.group(2) for text in (page, *framed) for m in _RUNNABLE.finditer(text)]
    return page.replace(CSP_PLACEHOLDER, policy(scripts, wasm), 1)
