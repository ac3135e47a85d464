#!/usr/bin/env python3
"""Structure figures of the carematch crates, for the codebase issue's before/after table.

Prints: the largest source files and functions (lines), the number of names the library's
root re-exports, the module dependency graph of `src/` at the level of its top modules (a
name reached through the crate root's re-exports, `crate::Records`, counts for the module it
comes from) and its cycles. Run from the repository root: `python3 benches/structure/stats.py`.

Functions are found by a brace-matching scan (comments and strings skipped), which is exact
for rustfmt-formatted code; a function's lines run from its `fn` line to its closing brace.
"""
import re
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def strip(text: str) -> str:
    """Text with comments, strings and char literals blanked (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 20]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]) or (c == "'" and text.startswith("'\\", i)):
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\x..|\\.|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path: Path):
    """(name, first line, lines) of every fn with a body in `path`."""
    text = strip(path.read_text())
    for m in re.finditer(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)", text):
        j = m.end()
        depth = 0
        # The body starts at the first `{` at bracket depth 0 before any `;`.
        while j < len(text):
            ch = text[j]
            if ch in "([<":
                depth += 1
            elif ch in ")]>":
                depth -= 1 if ch != ">" or text[j - 1] != "-" else 0
            elif ch == ";" and depth <= 0:
                j = -1
                break
            elif ch == "{" and depth <= 0:
                break
            j += 1
        if j < 0 or j >= len(text):
            continue
        level, k = 0, j
        while k < len(text):
            if text[k] == "{":
                level += 1
            elif text[k] == "}":
                level -= 1
                if level == 0:
                    break
            k += 1
        start = text.count("\n", 0, m.start()) + 1
        end = text.count("\n", 0, k) + 1
        yield m.group(1), start, end - start + 1


def rust_files(*dirs):
    for d in dirs:
        yield from sorted((ROOT / d).rglob("*.rs"))


def root_reexports() -> int:
    text = strip((ROOT / "src/lib.rs").read_text())
    count = 0
    for m in re.finditer(r"pub use\s+([^;]+);", text):
        body = m.group(1)
        if "{" in body:
            inner = body[body.index("{") + 1:body.rindex("}")]
            count += len([x for x in inner.split(",") if x.strip()])
        else:
            count += 1
    return count


def top_module(path: Path) -> str:
    rel = path.relative_to(ROOT / "src")
    return rel.parts[0].removesuffix(".rs")


EDGES = {}


def root_names():
    """Names the crate root re-exports, with the module each comes from."""
    text = strip((ROOT / "src/lib.rs").read_text())
    names = {}
    for m in re.finditer(r"pub use\s+([a-z_][a-z0-9_]*)::([^;]+);", text):
        module, body = m.group(1), m.group(2)
        inner = body[body.index("{") + 1:body.rindex("}")] if "{" in body else body
        for item in inner.split(","):
            item = item.strip().split(" as ")[-1].strip()
            if item:
                names[item.split("::")[-1]] = module
    return names


def module_graph():
    graph = {}
    for f in rust_files("src"):
        mod = top_module(f)
        if mod in ("lib", "main"):
            continue
        text = strip(f.read_text())
        # cfg(test) modules are not layers.
        cut = re.search(r"#\[cfg\(test\)\]\s*mod\s+tests", text)
        if cut:
            text = text[:cut.start()]
        deps = set(re.findall(r"crate::([a-z_][a-z0-9_]*)", text))
        # Names reached through the crate root's re-exports count for their module.
        roots = root_names()
        deps.update(roots[n] for n in re.findall(r"crate::([A-Z][A-Za-z0-9_]*|[A-Z_]+)\b", text) if n in roots)
        for m in re.finditer(r"crate::\{([^;]*)\}", text):
            deps.update(roots[n] for n in re.findall(r"\b([A-Z][A-Za-z0-9_]*)\b", m.group(1)) if n in roots)
        for m in re.finditer(r"crate::\{([^;]*)\}", text):
            deps.update(re.findall(r"(?:^|[,{])\s*([a-z_][a-z0-9_]*)", m.group(1)))
        for dep in deps:
            if dep != mod and ((ROOT / "src" / f"{dep}.rs").exists() or (ROOT / "src" / dep).is_dir()):
                graph.setdefault(mod, set()).add(dep)
                EDGES.setdefault((mod, dep), set()).add(str(f.relative_to(ROOT)))
        graph.setdefault(mod, set())
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
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
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    top = next((int(a) for a in sys.argv[1:] if a.isdigit()), 10)
    files = [(sum(1 for _ in f.open()), f.relative_to(ROOT)) for f in rust_files("src", "ffi/src")]
    print(f"largest files (lines), top {top}:")
    for n, f in sorted(files, reverse=True)[:top]:
        print(f"  {n:6}  {f}")
    fns = []
    for f in rust_files("src", "ffi/src"):
        for name, line, n in functions(f):
            fns.append((n, f"{f.relative_to(ROOT)}:{line}", name))
    print(f"largest functions (lines), top {top}:")
    for n, where, name in sorted(fns, reverse=True)[:top]:
        print(f"  {n:6}  {name}  ({where})")
    print(f"functions over 100 lines: {sum(1 for n, _, _ in fns if n > 100)}")
    print(f"names re-exported at the library root: {root_reexports()}")
    g = module_graph()
    print("module dependencies (src/, top modules, test modules left out):")
    for m in sorted(g):
        print(f"  {m:10} -> {', '.join(sorted(g[m])) or '-'}")
    cs = cycles(g)
    print(f"import cycles: {len(cs)}")
    for c in cs:
        print(f"  {' <-> '.join(c)}")
    if "--edges" in sys.argv:
        for (a, b), fs in sorted(EDGES.items()):
            print(f"  {a} -> {b}: {', '.join(sorted(fs))}")


if __name__ == "__main__":
    main()
