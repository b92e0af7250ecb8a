"""Wrong configuration: one line on stderr saying what is wrong and what to do, exit code 2.

Raise `ConfigurationError` anywhere a command checks its settings; `chronicle`'s main()
prints it (no traceback) and exits with 2, as argparse does for a bad command line.
"""

from __future__ import annotations

import sys

EXIT_CODE = 2


class ConfigurationError(Exception):
    """A setting (flag, environment variable, data dir, database) that cannot work."""


def report(message: str) -> int:
    """Print MESSAGE as one line on stderr; returns the exit code."""
    print("chronicle: " + " ".join(str(message).split()), file=sys.stderr)
    return EXIT_CODE
