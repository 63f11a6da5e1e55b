#!/usr/bin/env python3
"""Moves the README's reference sections (derivations, accuracy, layouts, performance) into
docs/ pages, mechanically: each section's text unchanged but for its headings (one level up)
and in-page links (rewritten to the page that now holds the anchor). The README keeps what a
user needs first and links the pages. Idempotent: a README without the sections is left as is.

Run from the repository root: python3 tools/split_readme.py
"""

import re
from pathlib import Path

# README heading -> docs page. Each section runs to the next top-level (##) heading.
MOVES = {
    "How the numbers are derived": "derivations.md",
    "Accuracy against real vLLM logs": "accuracy.md",
    "Which layout serves fastest": "layouts.md",
    "Performance": "performance.md",
}


def anchor(title):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    a = title.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def sections(lines):
    """(title or None, lines) runs split at top-level headings outside code fences."""
    out, current, title, fenced = [], [], None, False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            out.append((title, current))
            current, title = [], line[3:].strip()
        current.append(line)
    out.append((title, current))
    return out


def headings(lines):
    fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{2,6} ", line):
            yield line.lstrip("#").strip()


def main():
    readme = Path("README.md")
    parts = sections(readme.read_text().splitlines(keepends=True))
    moved = {t: body for t, body in parts if t in MOVES}
    if not moved:
        return
    # Where each anchor lives after the move.
    home = {}
    for title, body in parts:
        page = MOVES.get(title, "README.md")
        for h in headings(body):
            home.setdefault(anchor(h), page)

    def relink(text, page):
        def fix(m):
            a = m.group(1)
            target = home.get(a)
            if target is None or target == page:
                return m.group(0)
            if page == "README.md":
                return f"](docs/{target}#{a})"
            if target == "README.md":
                return f"](../README.md#{a})"
            return f"]({target}#{a})"

        return re.sub(r"\]\(#([\w\-]+)\)", fix, text)

    Path("docs").mkdir(exist_ok=True)
    for title, body in moved.items():
        page = MOVES[title]
        text, fenced = [], False
        for line in body:
            if line.startswith("```"):
                fenced = not fenced
            if not fenced and re.match(r"#{2,6} ", line):
                line = line[1:]
            text.append(line)
        Path("docs", page).write_text(relink("".join(text).rstrip("\n") + "\n", page))

    index = ["## More documentation\n", "\n"]
    for title, page in MOVES.items():
        if title in moved:
            index.append(f"- [{title}](docs/{page})\n")
    index.append("\n")
    out, placed = [], False
    for title, body in parts:
        if title in moved:
            if not placed:
                out.extend(index)
                placed = True
            continue
        out.extend(body)
    readme.write_text(relink("".join(out), "README.md"))


if __name__ == "__main__":
    main()
