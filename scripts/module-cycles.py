#!/usr/bin/env python3
"""Fails if the modules of a crate import each other in a cycle.

    scripts/module-cycles.py [SRC_DIR ...]      (default: src redis/src tower/src service/src)

A module is a file (`lib.rs`, `x.rs`, `x/mod.rs`) or an inline `mod name { ... }` (a unit test
module, a mutant module): each is a node of its own, as in Rust. Module A depends on module B when A's code (comments and string literals removed) names
a path into B: a `use` line, or a path in the code (`crate::engine::entry::Slot`,
`super::format::MAGIC`, `child::Thing`). A path is resolved to the deepest module file it
names; a name re-exported by `pub use` / `pub(crate) use` in a facade (`lib.rs`, a `mod.rs`) is
followed to the module that defines it, so a facade's re-exports are not dependencies of the
facade (a module that names `crate::Store` depends on the file that defines `Store`).
`mod x;` declarations are not dependencies either.

Layers (for `src/`, the core crate): the engine names nothing of `store`, `snapshot` or
`testing`; `snapshot` nothing of `store` or `testing`; `value` and `error` nothing of `engine`,
`store`, `snapshot` or `testing`. Unit-test modules (`mod tests`) are exempt from the layers
(not from cycles).

Exit status 1 with every cycle (a strongly connected component of two or more modules) and one
line (file:line) per edge in it; 0 and a one-line summary otherwise. Python 3 standard library.
"""

import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    """The code without comments, string and char literals (replaced by spaces, lines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not re.match(r"[A-Za-z0-9_]", text[i - 1])):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            j = text.index("'", i + 2 if text[i + 1] != "\\" else i + 3) + 1
            out.append("' '")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_files(src):
    """{module path tuple: file} for every .rs file under src."""
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel == ["lib"] or rel == ["main"]:
                mod = ()
            elif rel[-1] == "mod":
                mod = tuple(rel[:-1])
            else:
                mod = tuple(rel)
            mods[mod] = path
    return mods


def expand_use(tree):
    """`a::{b, c::{d, e as f}, self}` -> ['a::b', 'a::c::d', 'a::c::e', 'a']."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)  # `x as y` names x
    tree = re.sub(r"\s+", "", tree)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        return parts

    def go(prefix, s):
        if "{" in s:
            head, rest = s.split("{", 1)
            inner = rest[: rest.rfind("}")]
            head = head.rstrip(":")
            base = prefix + ([head] if head else [])
            res = []
            for part in split_top(inner):
                res.extend(go(base, part))
            return res
        segs = [x for x in s.split("::") if x]
        if segs and segs[-1] == "self":
            segs = segs[:-1]
        if segs and segs[-1] == "*":
            segs = segs[:-1]
        return ["::".join(prefix + segs)]

    return go([], tree)


def inline_modules(text):
    """[(start, end, (name, ...))] of the inline modules of a file's code (nested ones too)."""
    found, stack, depth = [], [], 0
    for tok in re.finditer(r"\bmod\s+(" + IDENT + r")\s*\{|\{|\}", text):
        if tok.group(1):
            depth += 1
            path = (stack[-1][2] if stack else ()) + (tok.group(1),)
            stack.append((tok.start(), depth, path))
        elif tok.group(0) == "{":
            depth += 1
        else:
            if stack and stack[-1][1] == depth:
                start, _, path = stack.pop()
                found.append((start, tok.end(), path))
            depth -= 1
    return found


def blank(text, start, end):
    """`text` with `text[start:end]` replaced by spaces (newlines kept, so line numbers hold)."""
    return text[:start] + "".join(c if c == "\n" else " " for c in text[start:end]) + text[end:]


def analyse(src):
    files = module_files(src)
    mods = dict(files)
    texts = {}
    for m, p in files.items():
        text = strip(open(p, encoding="utf-8").read())
        spans = inline_modules(text)
        for start, end, path in spans:
            own = blank(text, 0, start)
            own = blank(own, end, len(own))
            for s2, e2, p2 in spans:
                if len(p2) > len(path) and p2[: len(path)] == path:
                    own = blank(own, s2, e2)  # a nested module is its own node
            texts[m + path] = own
            mods[m + path] = p
        own = text
        for start, end, path in spans:
            own = blank(own, start, end)
        texts[m] = own
    children = {m: {c[-1] for c in mods if len(c) == len(m) + 1 and c[:-1] == m} for m in mods}
    files_of = {m: mods[m] for m in mods}

    # Re-exports of facades: (module, name) -> absolute path tuple.
    reexports = {}
    uses = {}  # module -> [(line, absolute path tuple, is_reexport)]
    for m, text in texts.items():
        found = []
        for um in re.finditer(r"(?m)^\s*(pub(?:\([a-z]+\))?\s+)?use\s+([^;]+);", text):
            line = text.count("\n", 0, um.start()) + 1
            for p in expand_use(um.group(2)):
                absolute = absolutize(p.split("::"), m, children)
                if absolute is None:
                    continue
                found.append((line, absolute, bool(um.group(1))))
                if um.group(1):
                    name = p.split("::")[-1]
                    alias = re.search(r"\bas\s+(" + IDENT + r")", um.group(2))
                    reexports[(m, name)] = absolute
        # Paths in code (outside use lines).
        code = re.sub(r"(?m)^\s*(pub(\([a-z]+\))?\s+)?use\s+[^;]+;", lambda x: "\n" * x.group(0).count("\n"), text)
        for pm in re.finditer(r"\b((?:crate|super|self|" + IDENT + r")(?:::" + IDENT + r")+)", code):
            segs = pm.group(1).split("::")
            if segs[0] not in ("crate", "super", "self") and segs[0] not in children[m]:
                continue
            absolute = absolutize(segs, m, children)
            if absolute is not None:
                line = code.count("\n", 0, pm.start()) + 1
                found.append((line, absolute, False))
        uses[m] = found

    def resolve(path, seen=()):
        """The module file a path lands in, following facade re-exports."""
        best = ()
        for k in range(len(path), -1, -1):
            if tuple(path[:k]) in mods:
                best = tuple(path[:k])
                break
        rest = path[len(best):]
        if rest and (best, rest[0]) in reexports and (best, rest[0]) not in seen:
            target = reexports[(best, rest[0])] + tuple(rest[1:])
            return resolve(target, seen + ((best, rest[0]),))
        return best

    edges = {}  # (a, b) -> first line
    for m, found in uses.items():
        for line, absolute, is_reexport in found:
            if is_reexport:
                continue  # a facade's re-export is not its own dependency
            target = resolve(absolute)
            if target != m and target in mods and not same_file(m, target, files):
                edges.setdefault((m, target), line)
    return mods, edges


def same_file(a, b, files):
    """Whether one of `a`, `b` is an inline module inside the other's file: a file and its own
    inline modules (`mod tests`, `mod mutant`) are one unit of code."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if long_[: len(short)] != short:
        return False
    return all(long_[:k] not in files for k in range(len(short) + 1, len(long_) + 1))


def absolutize(segs, m, children):
    if not segs:
        return None
    if segs[0] == "crate":
        return tuple(segs[1:])
    if segs[0] == "self":
        return m + tuple(segs[1:])
    if segs[0] == "super":
        base = list(m)
        while segs and segs[0] == "super":
            if not base:
                return None
            base.pop()
            segs = segs[1:]
        return tuple(base) + tuple(segs)
    if segs[0] in children.get(m, ()):
        return m + tuple(segs)
    return None  # an external crate or std


def sccs(nodes, edges):
    graph = {n: [] for n in nodes}
    for a, b in edges:
        graph[a].append(b)
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for n in nodes:
        if n not in index:
            strong(n)
    return [c for c in out if len(c) > 1]


def name(m):
    return "crate" + "".join("::" + s for s in m)


# (layer, layers it must not name), for the core crate's src/.
LAYERS = [
    ("engine", ("store", "snapshot", "testing")),
    ("snapshot", ("store", "testing")),
    ("value", ("engine", "store", "snapshot", "testing")),
    ("error", ("engine", "store", "snapshot", "testing")),
]


def layer_violations(mods, edges):
    bad = []
    for (a, b), line in sorted(edges.items()):
        if "tests" in a:
            continue
        for layer, forbidden in LAYERS:
            if a[:1] == (layer,) and b[:1] and b[0] in forbidden:
                bad.append(f"  {mods[a]}:{line}: {name(a)} -> {name(b)} ({layer} may not use {b[0]})")
    return bad


def main():
    dirs = sys.argv[1:] or [d for d in ("src", "redis/src", "tower/src", "service/src") if os.path.isdir(d)]
    failed = False
    total_mods = total_edges = 0
    for src in dirs:
        mods, edges = analyse(src)
        total_mods += len(mods)
        total_edges += len(edges)
        if src.rstrip("/") == "src":
            bad = layer_violations(mods, edges)
            if bad:
                failed = True
                print(f"{src}: a layer names one above it:")
                print("\n".join(bad))
        for comp in sccs(list(mods), edges):
            failed = True
            members = set(comp)
            print(f"{src}: import cycle among {', '.join(sorted(name(m) for m in comp))}:")
            for (a, b), line in sorted(edges.items()):
                if a in members and b in members:
                    print(f"  {mods[a]}:{line}: {name(a)} -> {name(b)}")
    if failed:
        sys.exit(1)
    print(f"module-cycles: no import cycle ({total_mods} modules, {total_edges} dependencies, in {', '.join(dirs)})")


if __name__ == "__main__":
    main()
