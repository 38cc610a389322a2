"""What a person sees: the progress line while searching, and summaries.

On a terminal the progress line rewrites itself a few times a second; when
stderr is a file or a pipe it prints a plain line every PLAIN_EVERY seconds so
that logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import Final, TextIO

from engine.miner import Progress

REDRAW_EVERY: Final = 0.25
PLAIN_EVERY: Final = 5.0
RATE_UNITS: Final = ((1e9, "GH/s"), (1e6, "MH/s"), (1e3, "kH/s"))


def rate(hashes_per_second: float) -> str:
    for scale, unit in RATE_UNITS:
        if hashes_per_second >= scale:
            return f"{hashes_per_second / scale:.2f} {unit}"
    return f"{hashes_per_second:.0f} H/s"


class ProgressLine:
    """A callable for miner.mine(progress=...)."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        # The first report waits a full interval: short searches print none.
        self._last = time.monotonic()
        self._drawn = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last < (REDRAW_EVERY if self.tty else PLAIN_EVERY):
            return
        self._last = now
        text = (
            f"{self.label}: {p.hashes:,} hashes, {rate(p.rate)}, "
            f"nonce {p.nonce:,}, {p.seconds:.1f} s"
        )
        if self.tty:
            self.stream.write(f"\r\x1b[2K{text}")
            self._drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False


def table(rows: list[tuple[str, str]]) -> str:
    """Aligned `name  value` lines."""
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)
