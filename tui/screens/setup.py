"""Before a run: the recipe, its inputs as a form, the strategy, the provider and the model."""

from __future__ import annotations

from dataclasses import replace

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static

from fanout.wiring import config as config_mod
from fanout.core.errors import UserError
from fanout.wiring.launch import RunOptions
from fanout.strategies import recipe as recipes
from fanout.strategies.recipe.model import SEARCH_CHOICES
from fanout.wiring.routing import ADHOC
from ..messages import Launch
from ..widgets.estimate_line import EstimateLine
from ..widgets.key_bar import KeyBar

RECIPE_DEFAULT = "recipe"  # the strategy Select's value for "whatever the recipe says"


COMPACT_BELOW = 36  # rows: a shorter terminal gets the fields without their borders, so Run stays in view


class SetupScreen(Screen):
    BINDINGS = [
        Binding("ctrl+r", "start", "Run", id="start", priority=True),
    ]

    def __init__(self, options: RunOptions) -> None:
        super().__init__()
        self.options = options
        self.recipe: recipes.Recipe | None = None
        self._input_names: list[str] = []
        self._loaded = ""

    def compose(self) -> ComposeResult:
        shipped = sorted(recipes.shipped_recipes())
        choices = [(name, name) for name in shipped]
        if self.options.recipe not in shipped:
            choices.append((self.options.recipe, self.options.recipe))
        providers, default_provider = self._providers()
        with VerticalScroll(id="setup"):
            yield Label("fanout: run a recipe's branches and combine them", id="setup-title")
            with Horizontal(classes="field"):
                yield Label("Recipe", classes="field-label")
                yield Select(choices, value=self.options.recipe, allow_blank=False, id="recipe")
            yield Static("", id="recipe-description", markup=False)
            yield Vertical(id="inputs")
            with Horizontal(classes="field"):
                yield Label("Strategy", classes="field-label")
                yield Select(
                    [("the recipe's", RECIPE_DEFAULT)] + [(s, s) for s in recipes.STRATEGIES],
                    value=self.options.strategy or RECIPE_DEFAULT,
                    allow_blank=False,
                    id="strategy",
                )
            with Horizontal(classes="field"):
                yield Label("Provider", classes="field-label")
                yield Select([(p, p) for p in providers], value=default_provider, allow_blank=False, id="provider")
            with Horizontal(classes="field"):
                yield Label("Model", classes="field-label")
                yield Input(self.options.model or "", placeholder="the provider's default", id="model")
            with Horizontal(classes="field"):
                yield Label("Base URL", classes="field-label")
                yield Input(self.options.base_url or "", placeholder="optional: an OpenAI-compatible server",
                            id="base-url")
            with Horizontal(classes="field"):
                yield Label("Web search", classes="field-label")
                yield Select([("the recipe's", RECIPE_DEFAULT)] + [(s, s) for s in SEARCH_CHOICES],
                             value=self.options.search or RECIPE_DEFAULT, allow_blank=False, id="search")
            with Horizontal(classes="field"):
                yield Label("Sources", classes="field-label")
                yield Input(", ".join(self.options.sources), id="sources",
                            placeholder="optional: your files, folders or globs, comma-separated, to cite as [n]")
            yield Static("", id="setup-error", markup=False)
            yield EstimateLine(id="estimate")
            yield Button("Run  (ctrl+r)", id="run", variant="primary")
        yield KeyBar()

    def _providers(self) -> tuple[list[str], str]:
        try:
            cfg = config_mod.load()
            names, default = sorted(cfg.providers), cfg.default_provider
        except UserError as err:
            self.call_after_refresh(self.show_error, str(err))
            names, default = ["local"], "local"
        if self.options.base_url:  # `--base-url` makes an ad-hoc provider for the run (fanout.targets.ADHOC)
            names.append(ADHOC)
            default = ADHOC
        if self.options.provider and self.options.provider not in names:
            names.append(self.options.provider)
        return names, self.options.provider or default

    async def on_mount(self) -> None:
        await self._load_recipe(self.options.recipe, self.options.inputs)

    @on(Select.Changed, "#recipe")
    async def _recipe_changed(self, event: Select.Changed) -> None:
        if event.value != self._loaded:  # Select also reports its initial value
            await self._load_recipe(str(event.value), {})

    async def _load_recipe(self, name: str, overrides: dict[str, str]) -> None:
        self._loaded = name
        box = self.query_one("#inputs")
        await box.remove_children()
        self._input_names = []
        try:
            self.recipe = recipes.load(name)
        except UserError as err:
            self.recipe = None
            self.show_error(str(err))
            return
        self.show_error("")
        r = self.recipe
        if r.plan is not None:
            planned = f"a planner chooses {r.plan.min_branches}–{r.plan.max_branches} branches as the run starts"
            branches = planned if not r.branches else f"{len(r.branches)} branches, and {planned}"
        else:
            branches = f"{len(r.branches)} branches"
        self.query_one("#recipe-description", Static).update(
            Content(f"{r.description}\n{branches} · {r.strategy} by default · aggregate: {r.aggregate.kind}")
        )
        rows = []
        for index, (key, default) in enumerate(r.inputs.items()):
            self._input_names.append(key)
            rows.append(
                Horizontal(
                    Label(Content(key), classes="field-label"),
                    Input(overrides.get(key, default), id=f"input-{index}"),
                    classes="field",
                )
            )
        await box.mount_all(rows)
        self._fit()
        self._form_changed()
        if rows:  # the topic (the first input) is what a new user types first
            self.query_one("#input-0", Input).focus()

    def on_screen_resume(self) -> None:
        self._form_changed()  # back on the form: its estimate is made again (none is made while it is hidden)

    @on(Input.Changed)
    @on(Select.Changed)
    def _form_changed(self) -> None:
        if len(self.query("#inputs Input")) == len(self._input_names):  # not while a recipe's inputs are laid out
            self.query_one(EstimateLine).request(self.gather())

    def on_resize(self, event: events.Resize) -> None:
        self._fit()

    def _fit(self) -> None:
        """Borderless fields on a short terminal (a field is then one row, not three)."""
        compact = self.size.height < COMPACT_BELOW
        self.set_class(compact, "-compact")
        for field in self.query("Input, Select"):
            field.compact = compact  # type: ignore[attr-defined]

    def show_error(self, message: str) -> None:
        error = self.query_one("#setup-error", Static)
        error.update(Content(message))
        error.display = bool(message)

    def gather(self) -> RunOptions:
        values = {name: self.query_one(f"#input-{i}", Input).value for i, name in enumerate(self._input_names)}
        strategy = self.query_one("#strategy", Select).value
        provider = self.query_one("#provider", Select).value
        search = self.query_one("#search", Select).value
        sources = [p.strip() for p in self.query_one("#sources", Input).value.split(",") if p.strip()]
        return replace(
            self.options,
            recipe=str(self.query_one("#recipe", Select).value),
            strategy=None if strategy == RECIPE_DEFAULT else str(strategy),
            provider=str(provider) if provider not in (Select.BLANK, ADHOC) else None,
            model=self.query_one("#model", Input).value.strip() or None,
            base_url=self.query_one("#base-url", Input).value.strip() or None,
            inputs=values,
            search=None if search == RECIPE_DEFAULT else str(search),
            sources=sources,
        )

    @on(Button.Pressed, "#run")
    def _run_pressed(self) -> None:
        self.action_start()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_start()

    def action_start(self) -> None:
        options = self.gather()
        self.options = options
        self.post_message(Launch(options))
