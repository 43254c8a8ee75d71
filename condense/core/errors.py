"""The one exception type a stage raises for bad input.

The command line turns it into a single ``error: ...`` line and exit code 2, so
every message must name the bad value and say how to fix it.
"""


class CondenseError(Exception):
    """Bad input or a broken artifact; the message is shown to the user as one line."""
