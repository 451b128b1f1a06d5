"""Every status has one look, and every colour in it can be drawn as a pane's border in every theme."""

from __future__ import annotations

from textual.app import App
from textual.color import Color

from fanout.frontends.status import LOOK, Status


def test_every_status_has_a_look():
    assert set(LOOK) == set(Status)
    assert len({look.word for look in LOOK.values()}) == len(LOOK)


async def test_every_status_colour_is_a_border_colour_in_every_theme():
    app = App()
    async with app.run_test():
        for theme in app.available_themes:
            app.theme = theme
            variables = app.theme_variables
            for status, look in LOOK.items():
                if look.colour:
                    Color.parse(variables[look.colour])  # raises for "auto 60%" and the like
