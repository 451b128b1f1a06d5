"""`fanout serve`: the app in a browser, through textual-serve (each browser tab runs its own `fanout tui`).

Bound to 127.0.0.1 by default: the app can start runs that spend API credit, so anyone who can reach the port
can spend yours. Another address is allowed, after a warning that says so.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys

from fanout.core.errors import UserError

from .exits import EXIT_OK

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(args: argparse.Namespace) -> str:
    """The command each browser session runs: the app with the same recipe and run flags."""
    argv = [sys.executable, "-m", "fanout", "tui", args.recipe]
    for flag in ("strategy", "provider", "model", "base_url", "concurrency", "max_tokens", "temperature",
                 "on_error", "cache", "budget"):
        value = getattr(args, flag, None)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    for pair in args.set:
        argv += ["--set", pair]
    return shlex.join(argv)


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, not {args.port}")
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UserError("fanout serve needs textual-serve (pip install textual-serve)") from None
    if not is_loopback(args.host):
        print(f"fanout: warning: serving on {args.host}, not on this machine alone: anyone who can reach "
              f"port {args.port} can start runs on your providers and spend your API credit", file=sys.stderr)
    print(f"fanout: serving the app on http://{args.host}:{args.port} (ctrl+c stops)", file=sys.stderr, flush=True)
    Server(app_command(args), host=args.host, port=args.port, title="fanout").serve()
    return EXIT_OK
