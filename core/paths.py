"""Where fanout keeps its files. `FANOUT_HOME`, when set, holds all of them; otherwise the platform's places."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _home() -> Path | None:
    value = os.environ.get("FANOUT_HOME")
    return Path(value).expanduser() if value else None


def _platform(kind: str) -> Path:
    home = Path.home()
    if sys.platform == "darwin":
        base = {"config": home / "Library/Application Support", "data": home / "Library/Application Support",
                "cache": home / "Library/Caches"}[kind]
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA" if kind == "cache" else "APPDATA", home))
    else:
        env, default = {"config": ("XDG_CONFIG_HOME", ".config"), "data": ("XDG_DATA_HOME", ".local/share"),
                        "cache": ("XDG_CACHE_HOME", ".cache")}[kind]
        base = Path(os.environ.get(env) or home / default)
    return base / "fanout"


def config_file() -> Path:
    explicit = os.environ.get("FANOUT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    home = _home()
    return (home if home else _platform("config")) / "config.toml"


def data_dir() -> Path:
    home = _home()
    return home if home else _platform("data")


def cache_dir() -> Path:
    home = _home()
    return home / "cache" if home else _platform("cache")


def sessions_dir() -> Path:
    return data_dir() / "sessions"


def private_dir(path: Path) -> Path:
    """Creates `path` readable by the user only: sessions and caches hold prompts and answers."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        path.chmod(0o700)
    except OSError:
        pass
    return path
