"""``python -m rtsynth`` runs the same command as the ``rtsynth`` script."""

import sys

from .cli import main

__all__ = []

if __name__ == "__main__":
    sys.exit(main())
