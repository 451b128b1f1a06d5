"""The loopback server with per-prompt extra latency, in its own process (for bench/eager_vs_phases.py).

    python bench/_server.py --latency 0.25 --token-interval 0.005 --tokens 20 --slow "focusing on: Software=0.7"

A request whose last user message contains PATTERN waits SECONDS more before its headers (an async responder:
it runs after the server's own latency). Prints its URL on one line; on SIGTERM prints the same summary line
as `python -m fanout.devserver` to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from fanout.devserver import LoopbackServer, Request, default_text, serve_until_signalled


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--token-interval", type=float, default=0.0)
    p.add_argument("--tokens", type=int, default=12)
    p.add_argument("--slow", action="append", default=[], metavar="PATTERN=SECONDS")
    args = p.parse_args()
    slow: list[tuple[str, float]] = []
    for item in args.slow:
        pattern, _, seconds = item.rpartition("=")
        slow.append((pattern, float(seconds)))

    async def run() -> None:
        server = LoopbackServer(latency=args.latency, token_interval=args.token_interval, tokens=args.tokens)

        async def responder(req: Request) -> str:
            for pattern, seconds in slow:
                if pattern in req.prompt:
                    await asyncio.sleep(seconds)
                    break
            return default_text(req.prompt, str(req.body.get("model", "")), server.tokens)

        server.responder = responder
        await serve_until_signalled(server)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
