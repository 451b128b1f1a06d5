"""Captures the README's two pictures of the app from real runs on the embedded model (no key, no network):
docs/images/run-screen.svg (a finished `research` run) and docs/images/compare.svg (its comparison, `m`).

    .venv/bin/python scripts/screenshots.py [--out docs/images] [--size 160x46]

Textual's own SVG export of what the app draws, at the size given. Look at both before committing them
(rsvg-convert FILE.svg -o FILE.png): a picture that records a defect is a defect.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from fanout.tui.app import FanoutApp
from fanout.tui.screens.compare import CompareScreen
from fanout.tui.screens.run import RunScreen
from fanout.wiring.launch import RunOptions, prepare


async def until(pilot, ready, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.1)
    await pilot.pause(0.5)  # the last repaints


async def capture(out: Path, size: tuple[int, int]) -> None:
    opts = RunOptions(recipe="research", cache="off")
    app = FanoutApp(opts, prepared=prepare(opts), start=True)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.finished.is_set(),
                    "the research run", 600)
        app.save_screenshot("run-screen.svg", str(out))
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen), "the comparison", 1200)
        app.save_screenshot("compare.svg", str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--size", default="160x46", help="columns x rows")
    args = parser.parse_args()
    cols, rows = (int(n) for n in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(capture(args.out, (cols, rows)))
    print(f"wrote {args.out / 'run-screen.svg'} and {args.out / 'compare.svg'}")


if __name__ == "__main__":
    main()
