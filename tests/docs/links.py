#!/usr/bin/env python3
"""Every link between the project's documents resolves (issue 21; run by .ci/run).

Checks, with the standard library only:

1. Markdown links in README.md, SECURITY.md, BENCHMARKS.md and docs/*.md: every relative
   target (`docs/plugins.md`, `../README.md#set-up`, `#retcodes`) names a file or folder that
   exists, and every `#anchor` names a heading of the target page, by GitHub's rules
   (lowercase; spaces become `-`; punctuation other than `-` and `_` dropped; a repeated
   heading gets `-1`, `-2`, ...). Links inside code blocks and `code spans` are not links.
2. Mentions of these documents in the repository's other text files (code comments, configs,
   scripts, error messages): `docs/x.md` and `README.md#anchor` name a page and anchor that
   exist, and `README "Section"` / `the README's "Section"` names (the start of) a heading the
   README has,
   so a comment never sends a reader to a section that moved.

Prints each broken link as `file:line: what`, and exits 1 if there is any.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOP_PAGES = ["README.md", "SECURITY.md", "BENCHMARKS.md"]
# Folders whose files are not the project's own text (build output, installed packages).
SKIP_DIRS = {".git", "target", "node_modules", ".venv", "venv", "__pycache__", "artifacts", "corpus"}
TEXT_SUFFIXES = (".rs", ".md", ".json5", ".json", ".toml", ".py", ".sh", ".js", ".mjs", ".wit",
                 ".c", ".h", ".yml", ".yaml", ".tmpl", ".txt")

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); the target ends at whitespace or ')'.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def pages():
    found = [p for p in TOP_PAGES if os.path.exists(os.path.join(ROOT, p))]
    docs = os.path.join(ROOT, "docs")
    found += sorted("docs/" + f for f in os.listdir(docs) if f.endswith(".md"))
    return found


def prose_lines(text):
    """(line number, line) for each line outside fenced code blocks."""
    fenced = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m:
            if fenced is None:
                fenced = m.group(1)
            elif m.group(1) == fenced:
                fenced = None
            continue
        if fenced is None:
            yield number, line


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


_anchors = {}


def anchors(path):
    """The anchors a page has: one per heading (numbered when repeated), and <a name/id>."""
    if path not in _anchors:
        found, seen = set(), {}
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for _, line in prose_lines(text):
            m = HEADING.match(line)
            if m:
                base = slug(m.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
            found.update(HTML_ANCHOR.findall(line))
        _anchors[path] = found
    return _anchors[path]


def headings(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return {re.sub(r"[`*]", "", m.group(2)).strip()
            for _, line in prose_lines(text) if (m := HEADING.match(line))}


def check_target(source, target):
    """What is wrong with a relative link `target` written in `source`, or None."""
    path, _, anchor = target.partition("#")
    if path:
        full = os.path.normpath(os.path.join(os.path.dirname(source), path))
        if not os.path.exists(full):
            return f"{target}: no such file {os.path.relpath(full, ROOT)}"
    else:
        full = source
    if anchor and full.endswith(".md") and os.path.isfile(full):
        if anchor not in anchors(full):
            return f"{target}: {os.path.relpath(full, ROOT)} has no heading with the anchor #{anchor}"
    return None


def check_pages():
    problems = []
    for page in pages():
        source = os.path.join(ROOT, page)
        with open(source, encoding="utf-8") as f:
            text = f.read()
        for number, line in prose_lines(text):
            for target in LINK.findall(CODE_SPAN.sub("", line)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # https:, mailto: ...
                problem = check_target(source, target)
                if problem:
                    problems.append(f"{page}:{number}: {problem}")
    return problems


# `docs/plugins.md`, `docs/plugins.md#hot-reload`, `README.md#set-up`, `SECURITY.md#…`
MENTION = re.compile(r"(?<![\w/.-])((?:docs/[\w.-]+\.md|README\.md|SECURITY\.md|BENCHMARKS\.md)(?:#[\w-]+)?)")
# README "Plugins that react", README, "Metrics", the README's "Fuzzing"
SECTION = re.compile(r"(?<!its )README(?:'s)?,? \"([^\"]+)\"")


def text_files():
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                   or d in (".ci",)]
        for name in files:
            if name.endswith(TEXT_SUFFIXES) or "." not in name:
                yield os.path.join(folder, name)


def check_mentions():
    problems = []
    readme = os.path.join(ROOT, "README.md")
    readme_headings = headings(readme)
    for path in text_files():
        if os.path.samefile(path, __file__):
            continue  # its own examples
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        rel = os.path.relpath(path, ROOT)
        for number, line in enumerate(text.splitlines(), 1):
            for target in MENTION.findall(line):
                problem = check_target(os.path.join(ROOT, "x"), target)
                if problem:
                    problems.append(f"{rel}:{number}: {problem}")
            for section in SECTION.findall(line):
                if not any(h.startswith(section) for h in readme_headings):
                    problems.append(f"{rel}:{number}: README has no section \"{section}\"")
    return problems


def main():
    problems = check_pages() + check_mentions()
    for problem in problems:
        print(problem)
    checked = len(pages())
    if problems:
        print(f"{len(problems)} broken link(s) in {checked} pages and the files that mention them")
        return 1
    print(f"links: every link and anchor in {checked} pages, and every mention of them, resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
