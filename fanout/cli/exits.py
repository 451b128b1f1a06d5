"""Exit codes: 0 ok, 1 a run that failed or partly failed, 2 bad input, 130 interrupted."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def status_exit(status: str) -> int:
    return {"ok": EXIT_OK, "cancelled": EXIT_INTERRUPTED}.get(status, EXIT_FAILED)
