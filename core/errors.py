"""Errors that are the user's to fix: the CLI prints the message and exits 2, with no traceback."""


class UserError(Exception):
    """Bad input: a recipe, a config file, a flag, a missing key. The message names what is at fault."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
