"""Plain-text tables for the benchmark scripts' reports."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def print_columns(
    headers: Sequence[str], lines: Sequence[Sequence[object]], left: Collection[int] = (0,)
) -> None:
    """Print ``lines`` under ``headers`` and a rule, each column as wide as its widest cell:
    the columns numbered in ``left`` aligned left, the others (figures) right."""
    rows = [tuple(map(str, line)) for line in (headers, *lines)]
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    for row in (rows[0], tuple("-" * width for width in widths), *rows[1:]):
        print(
            "  ".join(
                cell.ljust(width) if i in left else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )
