"""How a run may use the response cache; its own module so that the CLI's flags can name the choices without
importing the cache (and diskcache) on every command."""

from typing import Literal, get_args

CacheMode = Literal["use", "refresh", "off", "only"]
MODES: tuple[str, ...] = get_args(CacheMode)
