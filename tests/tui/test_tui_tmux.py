"""The real `fanout tui` command in a real terminal (tmux): it starts a run, streams text, quits on ctrl+q and
leaves the terminal as it found it (no alternate screen left on, the shell's prompt back); at 80x24 a comparison
started with `m` is read to its verdict with the keyboard alone."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from terminal import Tmux

ROOT = Path(__file__).resolve().parents[2]
STREAMED = re.compile(r"\b(alpha|beta|gamma|delta|epsilon|zeta|theta|kappa|lambda|sigma|omega)-[0-9a-f]{3}\b")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


def start_app(tmux: Tmux, fanout_home: Path, server, *flags: str, size: tuple[int, int] = (120, 40)) -> None:
    """A shell in a tmux window of `size` (120x40) running `fanout tui research --run FLAGS` against `server`, then
    `echo EXIT=$?` (research by name: the app's default recipe plans first, which the loopback server does not)."""
    env_line = f"export FANOUT_HOME={fanout_home} PS1='READY$ '"
    command = (f"cd {ROOT} && {sys.executable} -m fanout tui research --run {' '.join(flags)} --base-url {server.base_url}/v1 "
               f"--model m; echo EXIT=$?")
    tmux("new-session", "-d", "-s", tmux.name, "-x", str(size[0]), "-y", str(size[1]), "bash --norc --noprofile")
    tmux("send-keys", "-t", tmux.name, env_line, "Enter")
    tmux.wait(lambda s: "READY$" in s, "the shell")
    tmux("send-keys", "-t", tmux.name, command, "Enter")


def test_fanout_tui_runs_in_a_terminal_and_restores_it(loopback_thread, fanout_home):
    loopback_thread.token_interval, loopback_thread.tokens = 0.02, 40
    tmux = Tmux(f"fanout-test-{os.getpid()}")
    try:
        start_app(tmux, fanout_home, loopback_thread)
        tmux.wait(lambda s: STREAMED.search(s) is not None and "research · hybrid · custom/m" in s, "streamed text")
        assert tmux("display", "-p", "-t", tmux.name, "#{alternate_on}").strip() == "1"
        tmux("send-keys", "-t", tmux.name, "C-q")
        screen = tmux.wait(lambda s: re.search(r"^EXIT=\d+", s, re.M) is not None, "the program to exit")
        assert re.search(r"^EXIT=0$", screen, re.M), screen
        assert tmux("display", "-p", "-t", tmux.name, "#{alternate_on}").strip() == "0"
        lines = [line for line in screen.splitlines() if line.strip()]
        assert lines[-1].startswith("READY$"), screen  # the shell's prompt, on a normal screen
        assert not STREAMED.search(screen)  # the app's screen is gone with the alternate screen
        assert list((fanout_home / "sessions").glob("*.jsonl"))  # the run was recorded
    finally:
        tmux("kill-server")


def test_resizing_a_real_terminal_while_streaming(loopback_thread, fanout_home):
    """tmux resizes the window under the app, down to 40x12 and back, while tokens stream: the app survives it,
    draws the full layout again at the full size, the run completes and the session holds every branch. (The
    layout at 40x12 itself is asserted with Pilot in test_tui_stress.py.)"""
    loopback_thread.token_interval, loopback_thread.tokens = 0.1, 150  # about 15 s of tokens a branch
    tmux = Tmux(f"fanout-resize-{os.getpid()}")
    try:
        start_app(tmux, fanout_home, loopback_thread, "--strategy", "parallel")
        tmux.wait(lambda s: STREAMED.search(s) is not None, "streamed text")
        for width, height in ((40, 12), (80, 24), (40, 12), (41, 13)):
            tmux("resize-window", "-t", tmux.name, "-x", str(width), "-y", str(height))
            time.sleep(0.5)
            assert tmux("display", "-p", "-t", tmux.name, "#{pane_width}x#{pane_height}").strip() == f"{width}x{height}"
        [path] = list((fanout_home / "sessions").glob("*.jsonl"))
        assert '"type":"run_done"' not in path.read_text(), "the run ended before the resizes"
        tmux("resize-window", "-t", tmux.name, "-x", "120", "-y", "40")
        deadline = time.monotonic() + 120
        while '"type":"run_done"' not in path.read_text().rsplit("\n", 2)[-2] and time.monotonic() < deadline:
            time.sleep(0.2)
        lines = path.read_text().splitlines()
        assert '"type":"run_done"' in lines[-1] and '"status":"ok"' in lines[-1], lines[-1][:200]
        assert sum('"type":"branch_done"' in line for line in lines) == 5
        screen = tmux.wait(lambda s: len(s.splitlines()) == 40 and "research · parallel" in s, "the full layout")
        tmux("send-keys", "-t", tmux.name, "C-q")
        screen = tmux.wait(lambda s: re.search(r"^EXIT=\d+", s, re.M) is not None, "the program to exit")
        assert re.search(r"^EXIT=0$", screen, re.M), screen
    finally:
        tmux("kill-server")


TABLE_ROW = re.compile(r"^\s*(sequential|parallel|hybrid)\s+ok\s+\d", re.M)  # a row of the compare table


def test_the_compare_verdict_is_reached_with_the_keyboard_at_80x24(loopback_thread, fanout_home):
    """At 80x24 the comparison opens at its top, headed by its verdict, and page down alone scrolls it to the
    table's rows and the verdict's lines under them (every line shows in some page: they tile the screen)."""
    loopback_thread.token_interval, loopback_thread.tokens = 0.0, 8
    tmux = Tmux(f"fanout-compare-{os.getpid()}")
    try:
        start_app(tmux, fanout_home, loopback_thread, size=(80, 24))
        tmux.wait(lambda s: re.search(r"\bm compare\b", s) is not None, "the run's end (m offered)", timeout=60)
        tmux("send-keys", "-t", tmux.name, "m")
        pages = [tmux.wait(lambda s: s.lstrip().startswith("Compare: research"), "the compare screen", timeout=120)]
        assert re.match(r"\s*(sequential|parallel|hybrid): ", pages[0].splitlines()[1]), pages[0]  # the headline
        while "Longest output:" not in pages[-1]:
            assert len(pages) < 12, "no verdict after 11 pages:\n" + "\n---\n".join(pages)
            tmux("send-keys", "-t", tmux.name, "NPage")
            pages.append(tmux.wait(lambda s: s != pages[-1], "page down to scroll the comparison"))
        shown = "\n".join(pages)
        # A page may be caught mid-scroll, so a row can show in two of them: each must show in one at least
        assert {m.group(1) for m in TABLE_ROW.finditer(shown)} == {"hybrid", "parallel", "sequential"}, shown
        assert re.search(r"^\s*Fastest: (sequential|parallel|hybrid) \(", shown, re.M), shown
        tmux("send-keys", "-t", tmux.name, "C-q")
        screen = tmux.wait(lambda s: re.search(r"^EXIT=\d+", s, re.M) is not None, "the program to exit")
        assert re.search(r"^EXIT=0$", screen, re.M), screen
    finally:
        tmux("kill-server")
