"""The keys of the current screen on one line at the bottom, the ones that matter first.

A screen orders its keys by importance (`KEYS_FIRST`, binding ids); when the line is too narrow the least important
ones give way, and the help key (which lists them all) stays. While the focus is in a text field, keys that would
type a character are not offered: there they type, they do not act.

One line drawn from the screen's public `active_bindings`: a change of keys repaints this line and nothing else (no
widgets mounted per key, no layout of the screen), so moving from pane to pane costs nothing here. A click on a key
runs its action.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import ActiveBinding
from textual.content import Content
from textual.keys import key_to_character
from textual.widget import Widget
from textual.widgets import Input, TextArea

HELP = "help"  # the action that lists every key: always kept
GAP = 2  # cells between two keys


@dataclass(frozen=True)
class Key:
    keys: str  # as shown: "n/p", "esc", "^r"
    label: str
    action: str
    node: object  # where the action runs
    enabled: bool
    rank: int  # lower first, and kept longest

    @property
    def width(self) -> int:
        return len(self.keys) + 1 + len(self.label)


def typing(widget: Widget | None) -> bool:
    return isinstance(widget, (Input, TextArea))


def types_a_character(key: str) -> bool:
    character = key_to_character(key)
    return character is not None and character.isprintable()


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $footer-background; color: $footer-foreground; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: list[Key] = []
        self._spans: list[tuple[int, int, Key]] = []  # where each key was drawn, for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._shown = self.keys()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        keys = self.keys()
        if keys != self._shown:  # the same keys: nothing to draw
            self._shown = keys
            self.refresh()

    def keys(self) -> list[Key]:
        """The keys on offer now, most important first; one entry per action (or per binding group)."""
        screen = self.screen
        order = {bid: rank for rank, bid in enumerate(getattr(screen, "KEYS_FIRST", ()))}
        in_text = typing(screen.focused)
        entries: dict[object, list[tuple[ActiveBinding, str]]] = {}
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not (binding.show or binding.action == HELP) or not active.enabled:
                continue  # hidden, or not now (the key sheet lists those)
            if in_text and not binding.priority and types_a_character(key):
                continue  # in a text field it types
            group = binding.group or binding.action
            entries.setdefault(group, []).append((active, self.app.get_key_display(binding)))
        keys = []
        for position, (group, bindings) in enumerate(entries.items()):
            first = bindings[0][0]
            shown = list(dict.fromkeys(display for _, display in bindings))
            label = group.description if not isinstance(group, str) else first.binding.description
            rank = -1 if first.binding.action == HELP else order.get(first.binding.id or "", len(order) + position)
            keys.append(Key("/".join(shown[:2] if not isinstance(group, str) else shown[:1]), label.lower(),
                            first.binding.action, first.node, first.enabled, rank))
        return keys

    def fitting(self, width: int) -> list[Key]:
        """The most important keys that fit in `width` cells, in order of importance."""
        chosen: list[Key] = []
        used = 0
        for key in sorted(self._shown, key=lambda k: k.rank):
            need = key.width + (GAP if chosen else 0)
            if used + need <= width:
                chosen.append(key)
                used += need
        return chosen

    def render(self) -> Content:
        width = self.content_size.width
        parts: list = []
        self._spans = []
        x = 0
        for key in self.fitting(width):
            if parts:
                parts.append(" " * GAP)
                x += GAP
            key_style = "bold $footer-key-foreground" if key.enabled else "$text-disabled"
            parts += [(key.keys, key_style), " ", (key.label, "" if key.enabled else "$text-disabled")]
            self._spans.append((x, x + key.width, key))
            x += key.width
        return Content.assemble(*parts)

    async def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x - self.styles.padding.left < end and key.enabled:
                await self.app.run_action(key.action, key.node)  # type: ignore[arg-type]
                return
