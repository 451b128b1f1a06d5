"""`python -m fanout.devserver`: serve on 127.0.0.1 until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from .plans import PlanResponder
from .search import load_pages
from .server import LoopbackServer


async def serve_until_signalled(server: "LoopbackServer") -> None:
    """Starts `server`, prints its URL on one line, serves until SIGINT or SIGTERM, then a one-line summary."""
    await server.start()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, done.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(done.set))
    print(server.base_url, flush=True)
    try:
        await done.wait()
    finally:
        await server.stop()
        print(
            f"served {len(server.requests)} requests on {server.connections} connections; "
            f"max in flight {server.max_in_flight}; throttled {server.throttled}",
            file=sys.stderr,
            flush=True,
        )


def _read(parser: argparse.ArgumentParser, flag: str, name: str) -> str:
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as err:
        parser.error(f"{flag} {name}: {err}")
        raise  # parser.error exits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fanout.devserver", description="Fake OpenAI/Anthropic server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before response headers")
    parser.add_argument("--token-interval", type=float, default=0.0, help="seconds between streamed chunks")
    parser.add_argument("--tokens", type=int, default=12, help="words per default response")
    parser.add_argument("--no-usage", action="store_true", help="never send an OpenAI usage chunk")
    parser.add_argument("--max-concurrent", type=int, default=None, help="answer 429 above this many in-flight requests")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on those 429s")
    parser.add_argument("--plan", action="append", metavar="FILE", default=[],
                        help="answer requests for a plan (a schema or prompt asking for \"angles\") with this "
                             "file's text; repeat for the answers that follow (e.g. a bad plan, then its repair)")
    parser.add_argument("--follow-up", action="append", metavar="FILE", default=[],
                        help="answer requests for a follow-up plan (a plan request that allows no angles) with this "
                             "file's text; repeat for the answers that follow (default: no angles, \"covered\")")
    parser.add_argument("--search", metavar="FILE", default=None,
                        help="the pages web searches find: a JSON list of {\"url\", \"title\", \"text\", "
                             "\"page_age\"?}, ranked by the query's words (default: pages made up from each query)")
    parser.add_argument("--searches", type=int, default=1, metavar="N",
                        help="searches the model makes per call that carries a web search tool (default 1)")
    parser.add_argument("--reasoning", action="store_true",
                        help="every /v1/responses answer starts with a reasoning item, as a reasoning model's does")
    parser.add_argument("--batch-delay", type=float, default=0.0, metavar="SECONDS",
                        help="how long a batch takes before its results are ready (default 0)")
    args = parser.parse_args(argv)
    if args.searches < 0:
        parser.error(f"--searches {args.searches}: give 0 or more")
    if args.batch_delay < 0:
        parser.error(f"--batch-delay {args.batch_delay}: give 0 or more seconds")
    try:
        pages = load_pages(args.search) if args.search is not None else None
    except ValueError as err:
        parser.error(f"--search {err}")
    if args.follow_up and not args.plan:
        parser.error("--follow-up answers the planner's later calls: give the first plan with --plan too")
    plans, follow_ups = ([_read(parser, flag, name) for name in names]
                         for flag, names in (("--plan", args.plan), ("--follow-up", args.follow_up)))

    async def run() -> None:
        server = LoopbackServer(
            port=args.port,
            latency=args.latency,
            token_interval=args.token_interval,
            tokens=args.tokens,
            usage=not args.no_usage,
            max_concurrent=args.max_concurrent,
            retry_after=args.retry_after,
            responder=PlanResponder(*plans, follow_ups=follow_ups, tokens=args.tokens) if plans else None,
            search_pages=pages,
            searches=args.searches,
            reasoning=args.reasoning,
            batch_delay=args.batch_delay,
        )
        await serve_until_signalled(server)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
