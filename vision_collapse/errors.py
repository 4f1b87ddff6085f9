"""The one exception type for user mistakes: the CLI prints its message and exits non-zero."""


class UserError(Exception):
    """A mistake the user can fix; its message is one line naming the problem and the fix."""
