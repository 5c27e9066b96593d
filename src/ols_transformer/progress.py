"""Progress lines with an estimate of the time left, for the long loops of a job.

An experiment takes ``progress: Callable[[str], object]`` (the workflow script passes
``log.info``; the default does nothing) and wraps its outer loop::

    for family in tracked(families, "families", progress):
        ...

which reports, after each item, ``"3/10 families, 12.1 s elapsed, ~28 s left (rotation)"``:
a user waiting on a node can tell a slow job from a hung one. The estimate assumes the items
left take as long as the mean of those done. Pure: no logging set-up, no global state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
Report = Callable[[str], object]


def silent(_: str) -> None:
    """The default ``progress``: report nothing."""


def progress_line(done: int, total: int, what: str, elapsed: float, label: str = "") -> str:
    """``"<done>/<total> <what>, <elapsed> s elapsed, ~<left> s left (<label>)"``; the time
    left is ``elapsed / done * (total - done)`` (nothing left to estimate before the first)."""
    if done <= 0:
        left = "time left unknown"
    else:
        left = f"~{elapsed / done * (total - done):.3g} s left"
    suffix = f" ({label})" if label else ""
    return f"{done}/{total} {what}, {elapsed:.1f} s elapsed, {left}{suffix}"


def tracked(items: Sequence[T], what: str, progress: Report | None = None,
            label: Callable[[T], str] = str,
            clock: Callable[[], float] = time.perf_counter) -> Iterator[T]:
    """Yield ``items``; after each, send ``progress_line`` for it to ``progress`` (None: no
    lines). ``label`` names an item in the line; ``clock`` is for tests."""
    report = progress or silent
    start = clock()
    total = len(items)
    for done, item in enumerate(items, start=1):
        yield item
        report(progress_line(done, total, what, clock() - start, label(item)))
