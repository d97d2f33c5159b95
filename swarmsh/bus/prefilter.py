"""The followers' prefilter: which lines of a chunk may be spans a reader wants, at C speed."""

from __future__ import annotations

import re
from collections.abc import Sequence

# A newline of a region that does not sit in '}\n{"name":' (the last newline excepted): a line
# that does not look like one JSON object with a name first, which readers must look at.
_ODD_NEWLINE = re.compile(rb'\n(?:(?!\{"name":)|(?<=[^}]\n))')


class NamePrefixFilter:
    """Lets through only lines that may be spans named with one of `prefixes`.

    It must never drop such a span, so besides lines containing a prefix it
    passes lines with a JSON `\\u` escape (which could spell one) and lines that
    do not look like one JSON object with a name (so the reader dead-letters them).
    `scan()` does the same for a whole region of lines at C speed.

    With `quoted`, the needles are name prefixes: a name's JSON string starts with a quote
    then the prefix (or has an escape, which a backslash reveals), and the longer needle
    is found faster.
    """

    def __init__(self, prefixes: Sequence[str], *, quoted: bool = False) -> None:
        self.prefixes = tuple(p.encode() for p in prefixes)
        self.needles = self.prefixes + (b"\\u",)
        self.scan_needles = tuple(b'"' + p for p in self.prefixes) if quoted else self.prefixes

    def __call__(self, line: bytes) -> bool:
        if any(n in line for n in self.needles) or b'"name"' not in line:
            return True
        stripped = line.strip()
        return not (stripped.startswith(b"{") and stripped.endswith(b"}"))

    def scan(self, data: bytes, end: int | None = None) -> list[tuple[int, int]] | None:
        """(start, end) of each line of `data[:end]` (which ends with a newline) to look at,
        or None when the region has odd lines and must be checked line by line. `end`
        spares the caller a copy of the region."""
        if end is None:
            end = len(data)
        # Every line is '{"name":…}' (as our writer puts it) exactly when the region starts
        # so, ends with "}\n" and each of its other newlines sits in '}\n{"name":': one
        # regular-expression pass that stops at the first odd newline (two bytes.count
        # passes did the same at 1.5x the cost). Anything else is looked at line by line.
        if not (data.startswith(b'{"name":') and data.endswith(b"}\n", 0, end)):
            return None
        if _ODD_NEWLINE.search(data, 0, end - 1) is not None:
            return None
        found: set[int] = set()
        spans: list[tuple[int, int]] = []
        # A backslash is rare in our records, and finding one byte is a memchr (a count is
        # a full pass, ≈ 100 ns a line): only when there is one can an escape hide a prefix.
        escaped = data.find(b"\\", 0, end) != -1
        needles = self.needles if escaped else self.scan_needles
        for needle in needles:
            at = data.find(needle, 0, end)
            while at != -1:
                start = data.rfind(b"\n", 0, at) + 1
                stop = data.index(b"\n", at, end)
                if start not in found:
                    found.add(start)
                    spans.append((start, stop))
                at = data.find(needle, stop, end)
        spans.sort()
        return spans


def name_prefix_filter(prefixes: Sequence[str]) -> NamePrefixFilter:
    """The filter of an agent that follows span names starting with `prefixes`."""
    return NamePrefixFilter(prefixes, quoted=True)
