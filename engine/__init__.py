"""Receipt validation and proof-of-work mining engine."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("receipt-engine")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
