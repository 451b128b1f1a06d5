"""The embedded model, no key, no network, grounded in the user's own files: each branch is given the passages
that match it, the model reads them (real tokens) and answers, and the report lists the files as its sources."""

from __future__ import annotations

import pytest
from runs import run_unrecorded

from fanout.frontends.report import to_markdown
from fanout.strategies import events as ev
from fanout.wiring.launch import RunOptions

RECIPE = '''
name = "grounded-embedded"
prompt = "Using the sources, state one fact about {title}. Cite the source as [n]."
[defaults]
temperature = 0
max_tokens = 32
[[branches]]
id = "tides"
title = "spring tides and the Moon"
[[branches]]
id = "fundy"
title = "the tidal range of the Bay of Fundy"
[aggregate]
kind = "concat"
'''


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FANOUT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FANOUT_CONFIG", raising=False)


async def test_the_embedded_model_answers_from_the_passages_it_is_given(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "tides.md").write_text("# Spring tides\n\nSpring tides come at new and full moon, when the Sun and "
                                    "the Moon pull together.\n")
    (notes / "fundy.md").write_text("# Bay of Fundy\n\nThe Bay of Fundy has the largest tidal range on Earth, "
                                    "about sixteen metres.\n")
    (notes / "cats.md").write_text("# Cats\n\nCats sleep most of the day.\n")
    recipe = tmp_path / "grounded.toml"
    recipe.write_text(RECIPE)
    state, events = await run_unrecorded(RunOptions(recipe=str(recipe), sources=[str(notes)], cache="off"))
    assert state.status == "ok", state.done
    given = {e.branch: [s.ref for s in e.sources] for e in events if isinstance(e, ev.BranchSources)}
    assert given["tides"][0] == str(notes / "tides.md") and given["fundy"][0] == str(notes / "fundy.md")
    for b in state.branch_list():
        m = b.metrics
        assert b.text.strip() and m.output_tokens > 0 and not m.tokens_estimated  # the model's own count
        assert m.input_tokens > 120  # the numbered passages and the rule to cite them reached the model
    report = to_markdown(state)
    assert "## Sources" in report and "`" + str(notes / "fundy.md") in report
