"""User-facing errors: the CLI prints them as one line and exits non-zero (no traceback)."""


class UserError(Exception):
    """A mistake in the user's input: the message names the problem and how to fix it."""
