#!/usr/bin/env python3
"""The structure checks `make lint` runs (issue 25): no cycle among the crate's top-level
modules, and no function over 120 lines outside tests.

    python3 tests/structure/check.py [--graph]

Module edges come from `use crate::NAME` (grouped uses too) and `crate::NAME::` paths in
each file of src/ (test code left out: files named tests.rs and `#[cfg(test)] mod` blocks);
a top-level module is a file or folder directly under src/ (src/bin/ is the binary's own and
imports the library by name, not `crate::`). Function sizes count from the `fn` line to its
closing brace. Exit status 1 with one line per finding, 0 when clean. Standard library only.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
MAX_LINES = 120


def strip(text):
    """Comments, strings and char literals blanked out (newlines kept), so braces count."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 0, i
            while j < n:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                    if depth == 0:
                        break
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif (m := re.match(r'b?r(#*)"', text[i:i + 80])) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = '"' + m.group(1)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"' or (c == "b" and text[i + 1:i + 2] == '"' and not (i and (text[i - 1].isalnum() or text[i - 1] == "_"))):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'" and (m := re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12])):
            out.append(" " * m.end())
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(code, open_at):
    """The index of the brace that closes the one at `open_at`."""
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def without_tests(code):
    """`#[cfg(test)] mod x { ... }` blocks blanked out."""
    for m in reversed(list(re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", code))):
        end = block_end(code, m.end() - 1)
        code = code[:m.start()] + re.sub(r"[^\n]", " ", code[m.start():end + 1]) + code[end + 1:]
    return code


def rust_files():
    for d, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith(".rs"):
                path = os.path.join(d, f)
                yield os.path.relpath(path, SRC), path


def long_functions():
    found = []
    for rel, path in rust_files():
        if rel.endswith("tests.rs"):
            continue
        code = without_tests(strip(open(path, encoding="utf-8").read()))
        for m in re.finditer(r"\bfn\s+(\w+)[^;{]*\{", code):
            end = block_end(code, m.end() - 1)
            lines = code.count("\n", m.start(), end) + 1
            if lines > MAX_LINES:
                line = code.count("\n", 0, m.start()) + 1
                found.append(f"{rel}:{line} fn {m.group(1)} is {lines} lines (at most {MAX_LINES})")
    return found


def module_graph():
    tops = {rel.split("/")[0].removesuffix(".rs") for rel, _ in rust_files()}
    tops -= {"lib", "main", "bin"}
    edges = {}
    for rel, path in rust_files():
        top = rel.split("/")[0].removesuffix(".rs")
        if top not in tops or rel.endswith("tests.rs"):
            continue
        code = without_tests(strip(open(path, encoding="utf-8").read()))
        names = set(re.findall(r"\bcrate::(\w+)", code))
        for group in re.findall(r"\buse\s+crate::\{([^;]*)\};", code):
            names.update(re.findall(r"(?:^|[{,])\s*(\w+)", group))
        for name in names:
            if name in tops and name != top:
                edges.setdefault(top, set()).add(name)
    return tops, edges


def cycles(tops, edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
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

    for v in sorted(tops):
        if v not in index:
            visit(v)
    return out


def main():
    tops, edges = module_graph()
    if "--graph" in sys.argv:
        for v in sorted(edges):
            print(f"{v} -> {' '.join(sorted(edges[v]))}")
    problems = [f"module cycle: {' -> '.join(c)}" for c in cycles(tops, edges)]
    problems += long_functions()
    for p in problems:
        print(f"structure: {p}")
    if not problems:
        print(f"structure: {len(tops)} top-level modules, no cycle; no function over {MAX_LINES} lines")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
