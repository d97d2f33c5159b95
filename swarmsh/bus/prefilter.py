"""The followers' prefilter: which lines of a chunk may be spans a reader wants, at C speed."""

from __future__ import annotations

from collections.abc import Sequence


class NamePrefixFilter:
    """Lets through only lines that may be spans named with one of `prefixes`.

    It must never drop such a span, so besides lines containing a prefix it
    passes lines with a JSON `\\u` escape (which could spell one) and lines that
    do not look like one JSON object with a name (so the reader dead-letters them).
    `scan()` does the same for a whole region of lines at C speed.
    """

    def __init__(self, prefixes: Sequence[str]) -> None:
        self.prefixes = tuple(p.encode() for p in prefixes)
        self.needles = self.prefixes + (b"\\u",)

    def __call__(self, line: bytes) -> bool:
        if any(n in line for n in self.needles) or b'"name"' not in line:
            return True
        stripped = line.strip()
        return not (stripped.startswith(b"{") and stripped.endswith(b"}"))

    def scan(self, region: bytes) -> list[tuple[int, int]] | None:
        """(start, end) of each line of `region` (which ends with a newline) to look at,
        or None when the region has odd lines and must be checked line by line."""
        # Every line is '{"name":…}' (as our writer puts it) exactly when the region starts
        # so, ends with "}\n" and each of its other newlines sits in '}\n{"name":'.
        # Anything else (other writers, junk) is looked at line by line.
        if not (region.startswith(b'{"name":') and region.endswith(b"}\n")):
            return None
        if region.count(b'}\n{"name":') != region.count(b"\n") - 1:
            return None
        found: set[int] = set()
        spans: list[tuple[int, int]] = []
        # A backslash is rare in our records, and finding one byte is a memchr (a count is
        # a full pass, ≈ 100 ns a line): only when there is one can a \\u escape hide a prefix.
        needles = self.needles if b"\\" in region else self.prefixes
        for needle in needles:
            at = region.find(needle)
            while at != -1:
                start = region.rfind(b"\n", 0, at) + 1
                end = region.index(b"\n", at)
                if start not in found:
                    found.add(start)
                    spans.append((start, end))
                at = region.find(needle, end)
        spans.sort()
        return spans


def name_prefix_filter(prefixes: Sequence[str]) -> NamePrefixFilter:
    return NamePrefixFilter(prefixes)
