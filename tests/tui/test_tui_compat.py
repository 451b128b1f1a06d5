"""What fanout.tui.compat relies on in Textual is still there and still does what it did. When a Textual upgrade
changes one of them, this fails, naming it: fix compat.py (or drop the use) before raising pyproject's bound."""

from __future__ import annotations

from textual.app import App
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Label

from fanout.tui import compat
from tuikit import wait_for


def test_every_use_is_still_possible():
    assert compat.QUIET_FOCUS, "Screen.focused is no longer a Reactive: QuietFocusScreen repaints the whole screen"
    assert compat.ANCHOR, "Widget._anchored/_anchor_released/_check_anchor are gone: following resumes only at the end"
    assert compat.SCREEN_TEXT, "the compositor moved: screen_text cannot read the screen"
    assert set(compat.WORK) == {"layouts", "full repaints"}, "the layout or full-repaint method was renamed"
    assert hasattr(Label(), "update_node_styles"), "style_now no longer styles a scroll area ahead of its focus"


class Probe(App):
    def compose(self):
        yield Label("hello from the probe", id="greeting")
        with compat_scroll():
            for n in range(60):
                yield Label(f"row {n}")


Following = compat.FollowingScroll


def compat_scroll() -> Following:
    return Following(id="scroll")


async def test_a_quiet_focus_screen_does_not_repaint_when_the_focus_moves():
    class Quiet(compat.QuietFocusScreen):
        def compose(self):
            yield Label("a", id="a")
            yield VerticalScroll(Label("b"), id="b")

    app = App()
    async with app.run_test() as pilot:
        screen = Quiet()
        await app.push_screen(screen)
        await pilot.pause()
        reactive = type(screen).__dict__.get("focused") or compat.QuietFocusScreen.__dict__["focused"]
        assert reactive._repaint is False  # the one attribute QuietFocusScreen changes


async def test_screen_text_notifications_and_the_work_counters(monkeypatch):
    app = Probe()
    async with app.run_test(size=(60, 10)) as pilot:
        assert "hello from the probe" in compat.screen_text(app)
        app.notify("a note")
        await pilot.pause()
        assert compat.notifications(app) == ["a note"]
        counts = dict.fromkeys(compat.WORK, 0)
        for what, (owner, name) in compat.WORK.items():
            original = getattr(owner, name)

            def counted(obj, *args, _what=what, _original=original, **kwargs):
                counts[_what] += 1
                return _original(obj, *args, **kwargs)

            monkeypatch.setattr(owner, name, counted)
        app.screen.refresh(layout=True)
        await wait_for(pilot, lambda: all(counts.values()), what=f"a layout and a full repaint counted: {counts}")


async def test_following_comes_back_near_the_bottom_not_only_at_the_last_row():
    app = Probe()
    async with app.run_test(size=(60, 10)) as pilot:
        scroll = app.query_one(Following)
        scroll.anchor()
        await wait_for(pilot, lambda: scroll.max_scroll_y > 0 and scroll.scroll_y == scroll.max_scroll_y,
                       what="anchored at the end")
        assert not scroll.anchor_released
        scroll.release_anchor()
        scroll.scroll_to(y=0, animate=False)
        await pilot.pause()
        assert scroll.anchor_released  # the reader scrolled away
        scroll.scroll_to(y=scroll.max_scroll_y - scroll.resume_rows, animate=False)
        await pilot.pause()
        assert not scroll.anchor_released  # two rows from the end is at the end


def test_no_module_of_the_app_but_compat_reaches_into_textual():
    """A private name of Textual's (or of the rich objects the app extends) used anywhere in tui/ but compat.py,
    on any object, `self` included: an import of a private module, or an attribute Textual defines with a `_`."""
    import ast
    from pathlib import Path

    from rich.markdown import Markdown
    from textual.screen import Screen

    probe = Widget()
    private = {n for n in {*dir(probe), *vars(probe), *dir(Screen), *dir(App), *dir(Markdown), *vars(Markdown("x"))}
               if n.startswith("_") and not n.startswith("__")}
    found = []
    for path in sorted((Path(compat.__file__).parent).rglob("*.py")):
        if path.name == "compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in private:
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(("textual.", "rich.")) \
                    and any(part.startswith("_") for part in node.module.split(".")):
                found.append(f"{path.name}:{node.lineno} from {node.module}")
    assert not found, found
