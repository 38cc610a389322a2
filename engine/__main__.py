"""`python -m engine` and the `engine` console script."""

from __future__ import annotations

import sys


def main() -> int:
    """Run the command line; a Ctrl-C while the kernels load exits cleanly too."""
    try:
        from engine.cli import main as run
    except KeyboardInterrupt:
        print("\nengine: interrupted", file=sys.stderr)
        return 130
    return run()


if __name__ == "__main__":
    sys.exit(main())
