"""Sessions: every run's events on disk as they happen, listed, replayed, exported and imported.

A session is one JSON-lines file: a header line (the recipe as it was, inputs, strategy, provider and model
names, never a secret), then one line per event. Each line reaches the OS with a single `write` the moment its
event is published, so a run killed with SIGKILL leaves every event it had; a missing `run_done` marks the
session incomplete, and a torn last line is skipped with a warning.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable

from fanout.core.errors import UserError
from fanout.core.paths import private_dir, sessions_dir
from fanout.core.text import redact
from fanout.strategies.events import Event, RunDone, RunStarted, from_dict

FORMAT = 1
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")


@dataclass
class Header:
    id: str
    recipe: str
    recipe_data: dict[str, Any]
    inputs: dict[str, str]
    strategy: str
    provider: str
    model: str
    created: float
    # The run's flags as given (provider, model, base URL, concurrency, max tokens, ...): what `fanout resume`
    # needs to go on with the same settings. Never a key: keys come only from the environment.
    options: dict[str, Any] = field(default_factory=dict)
    # The comparison this run is part of (`m` in the app): one id shared by its runs, written only when there is
    # one. `plan_only`: the run that made the plan a planned recipe's comparison gives every strategy.
    comparison: str = ""
    plan_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        optional = {"comparison", "plan_only"}
        return {"type": "session", "format": FORMAT,
                **{k: v for k, v in self.__dict__.items() if v or k not in optional}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Header":
        return cls(
            id=str(data["id"]),
            recipe=str(data.get("recipe", "")),
            recipe_data=dict(data.get("recipe_data") or {}),
            inputs={str(k): str(v) for k, v in (data.get("inputs") or {}).items()},
            strategy=str(data.get("strategy", "")),
            provider=str(data.get("provider", "")),
            model=str(data.get("model", "")),
            created=float(data.get("created", 0.0)),
            options=dict(data.get("options") or {}),
            comparison=str(data.get("comparison") or ""),
            plan_only=bool(data.get("plan_only", False)),
        )


def session_path(session_id: str, folder: Path | None = None) -> Path:
    if not _ID.match(session_id):
        raise UserError(f"{session_id!r} is not a session id")
    return (folder or sessions_dir()) / f"{session_id}.jsonl"


class Recorder:
    """Writes a session as its events arrive. Call it with each event; `close()` when the run is over.

    Opening raises OSError (the caller decides what a session that cannot be created means); a write that fails
    later (a full disk) never stops the run: the recorder stops writing, keeps the reason in `error` and calls
    `on_error` once with it."""

    def __init__(
        self,
        header: Header,
        folder: Path | None = None,
        secrets: Iterable[str] = (),
        *,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._secrets = [s for s in secrets if s and len(s) >= 8]
        self._on_error = on_error
        self.error = ""
        self.path = session_path(header.id, folder or sessions_dir())
        self._fd = -1
        private_dir(self.path.parent)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        try:
            self._write(header.to_dict())
        except OSError:
            self.close()
            raise

    @classmethod
    def reopen(
        cls, path: Path, secrets: Iterable[str] = (), *, on_error: Callable[[str], None] | None = None
    ) -> "Recorder":
        """Appends to an existing session (a resumed run goes on in the same file)."""
        self = cls.__new__(cls)
        self._secrets = [s for s in secrets if s and len(s) >= 8]
        self._on_error = on_error
        self.error = ""
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        if path.stat().st_size and not _last_byte_is_newline(path):
            os.write(self._fd, b"\n")  # a line torn by a kill stays a line of its own, skipped when read
        return self

    def _write(self, data: dict[str, Any]) -> None:
        line = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if self._secrets:  # the last line of defence: no key value ever reaches the disk
            line = redact(line, self._secrets, shapes=False)
        os.write(self._fd, (line + "\n").encode())

    def __call__(self, event: Event) -> None:
        if self._fd < 0:
            return
        try:
            self._write(event.to_dict())
        except OSError as err:
            self.error = f"{self.path}: {err.strerror or err}"
            self.close()
            if self._on_error is not None:
                self._on_error(self.error)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                os.close(fd)
            except OSError:
                pass


def _last_byte_is_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


@dataclass
class Session:
    header: Header
    events: list[Event]
    path: Path
    damaged_lines: int = 0

    @property
    def complete(self) -> bool:
        return bool(self.events) and isinstance(self.events[-1], RunDone)

    @property
    def done(self) -> RunDone | None:
        return self.events[-1] if self.complete else None  # type: ignore[return-value]

    @property
    def status(self) -> str:
        return self.done.status if self.done else "incomplete"


def _parse_lines(lines: Iterable[str], source: str) -> tuple[Header, list[Event], int]:
    header: Header | None = None
    events: list[Event] = []
    damaged = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if header is None:
                if data.get("type") != "session":
                    raise ValueError("the first line is not a session header")
                header = Header.from_dict(data)
            else:
                events.append(from_dict(data))
        except (ValueError, KeyError, TypeError) as err:
            if header is None:
                raise UserError(f"{source}: not a fanout session ({err})") from None
            damaged += 1
    if header is None:
        raise UserError(f"{source}: empty session file")
    return header, events, damaged


def load(session_id: str, folder: Path | None = None) -> Session:
    path = session_path(session_id, folder)
    if not path.exists():
        raise UserError(f"no session {session_id!r} (see `fanout sessions`)")
    with path.open(encoding="utf-8", errors="replace") as fh:
        header, events, damaged = _parse_lines(fh, str(path))
    if damaged:
        print(f"fanout: warning: {path}: skipped {damaged} damaged line(s)", file=sys.stderr)
    return Session(header, events, path, damaged)


@dataclass
class Summary:
    id: str
    created: float
    recipe: str
    strategy: str
    provider: str
    model: str
    branches: int
    status: str
    wall: float | None
    tokens: int | None
    cost: float | None
    comparison: str = ""  # the comparison it is part of ("": none)
    plan_only: bool = False  # a comparison's plan, made once for every strategy


def _last_line(path: Path) -> str:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        tail = fh.read().decode("utf-8", errors="replace").rstrip("\n")
    return tail.rsplit("\n", 1)[-1]


def _planned_count(lines: Iterable[str], *, waves: bool = False) -> int:
    """A planned run's branches arrive with its plan, after the planner's tokens: read on to that line only; a run
    of several waves (`waves`) to its end, each later wave's branches arriving with its follow-up plan (a resumed
    part announces the same ones again)."""
    planned: set[str] = set()
    for line in lines:
        if '"type":"plan_done"' in line:
            try:
                planned.update(b.get("id", "") for b in json.loads(line).get("branches") or ())
            except (ValueError, AttributeError):
                pass
            if not waves:
                break
        if '"type":"run_done"' in line and not waves:
            break
    return len(planned)


def _deep(header: Header) -> bool:
    """Was the run asked for more than one wave (its recipe's [plan] depth, or --depth)?"""
    plan = header.recipe_data.get("plan")
    depth = header.options.get("depth") or (plan.get("depth") if isinstance(plan, dict) else None) or 1
    return isinstance(depth, int) and depth > 1


def summarize(path: Path) -> Summary | None:
    """A session's line in the list, from its first two lines and its last: no need to read the tokens between."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            header = Header.from_dict(json.loads(fh.readline()))
            started_line = fh.readline()
            planned = _planned_count(fh, waves=_deep(header)) if "plan" in header.recipe_data else 0
        started = from_dict(json.loads(started_line)) if started_line.strip() else None
        done: Any = None
        try:
            last = json.loads(_last_line(path))
            if last.get("type") == "run_done":
                done = from_dict(last)
        except ValueError:
            pass
    except (OSError, ValueError, KeyError, TypeError):
        return None
    branches = (len(started.branches) if isinstance(started, RunStarted) else 0) + planned
    m = done.metrics if done else None
    return Summary(
        id=header.id,
        created=header.created,
        recipe=header.recipe,
        strategy=header.strategy,
        provider=header.provider,
        model=header.model,
        branches=branches,
        status=done.status if done else "incomplete",
        wall=m.wall if m else None,
        tokens=(m.input_tokens + m.output_tokens) if m else None,
        cost=m.cost if m else None,
        comparison=header.comparison,
        plan_only=header.plan_only,
    )


def list_sessions(folder: Path | None = None) -> list[Summary]:
    folder = folder or sessions_dir()
    if not folder.is_dir():
        return []
    found = (summarize(p) for p in folder.glob("*.jsonl"))
    return sorted((s for s in found if s), key=lambda s: s.created, reverse=True)


def remove(session_id: str, folder: Path | None = None) -> None:
    path = session_path(session_id, folder)
    if not path.exists():
        raise UserError(f"no session {session_id!r} (see `fanout sessions`)")
    path.unlink()


async def replay(events: list[Event], speed: float = 1.0) -> AsyncIterator[Event]:
    """The recorded stream again: at its original pace (1), faster (10), or at once (0)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for event in events:
        if speed > 0:
            due = start + event.t / speed
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        yield event


def export_json(session: Session) -> dict[str, Any]:
    return {
        "fanout_session": FORMAT,
        "header": session.header.to_dict(),
        "events": [e.to_dict() for e in session.events],
    }


def import_file(path: Path, folder: Path | None = None) -> Header:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read ({err})") from None
    except ValueError as err:
        raise UserError(f"{path}: not JSON ({err})") from None
    if not isinstance(data, dict) or data.get("fanout_session") != FORMAT:
        raise UserError(f"{path}: not an exported fanout session (no \"fanout_session\": {FORMAT})")
    if not isinstance(data.get("events"), list) or not isinstance(data.get("header"), dict):
        raise UserError(f"{path}: an exported session needs \"header\" and \"events\"")
    lines = [json.dumps(data["header"])] + [json.dumps(e) for e in data["events"]]
    header, events, damaged = _parse_lines(lines, str(path))
    if damaged:
        raise UserError(f"{path}: {damaged} event(s) could not be read")
    folder = private_dir(folder or sessions_dir())
    target = session_path(header.id, folder)
    if target.exists():
        raise UserError(f"session {header.id!r} already exists (remove it first: fanout sessions rm {header.id})")
    recorder = Recorder(header, folder)
    for event in events:
        recorder(event)
    recorder.close()
    return header


def new_header(spec: Any, options: dict[str, Any] | None = None, comparison: str = "") -> Header:
    """The header of a run about to start, from its RunSpec (and the flags it was started with, and the
    comparison it is part of)."""
    return Header(
        id=spec.session_id,
        recipe=spec.recipe.name,
        recipe_data=spec.recipe.raw,
        inputs=dict(spec.values),
        strategy=spec.strategy,
        provider=spec.provider_label,
        model=spec.model_label,
        created=time.time(),
        options=dict(options or {}),
        comparison=comparison,
        plan_only=bool(spec.plan_only),
    )
