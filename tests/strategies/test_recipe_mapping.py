"""Branches that map over a document's sections (`split`) or over files (`files`): validation, expansion and the
variables each part's prompt is given."""

from __future__ import annotations

import pytest

from fanout.core.errors import UserError
from fanout.strategies import recipe as recipes
from fanout.strategies.prompting import branch_messages

SPLIT = """
name = "doc"
[inputs]
doc = "## A\\n\\nalpha\\n\\n## B\\n\\nbeta\\n\\n## C\\n\\ngamma"
[[branches]]
id = "s"
title = "Sec"
split = {{ {split} }}
prompt = "{prompt}"
[[branches]]
id = "after"
after = ["s"]
prompt = "then {{title}}"
"""


def load(split='input = "doc"', prompt="{section_index}/{section_count} {section_title}: {section}"):
    return recipes.parse(SPLIT.format(split=split, prompt=prompt), "doc.toml")


def bad(expected: list[str], **kw) -> None:
    with pytest.raises(UserError) as info:
        load(**kw)
    for part in expected:
        assert part in str(info.value), str(info.value)


def test_split_becomes_one_branch_per_section_with_its_variables():
    rec = load()
    ex = recipes.expand(rec, rec.inputs)
    assert [b.id for b in ex.branches] == ["s.1", "s.2", "s.3", "after"]
    assert [b.title for b in ex.branches[:3]] == ["Sec: A", "Sec: B", "Sec: C"]
    assert ex.branch("after").after == ("s.1", "s.2", "s.3")  # waits for every section
    text = branch_messages(ex, ex.branch("s.2"), rec.inputs, "parallel", [])[-1].content
    assert text == "2/3 B: ## B\n\nbeta"
    assert recipes.expand(ex, rec.inputs) == ex  # expanding again changes nothing (the engine does)


def test_split_by_size_titles_parts():
    rec = load(split='input = "doc", by = "size", max_chars = 200')
    ex = recipes.expand(rec, {"doc": "word " * 100})
    assert [b.title for b in ex.branches[:-1]] == ["Sec: part 1 of 3", "Sec: part 2 of 3", "Sec: part 3 of 3"]


def test_split_errors_name_the_branch_and_field():
    bad(["doc.toml", "branches[0] (id 's').split.input", "'nope' names no input", "inputs: doc"],
        split='input = "nope"')
    bad(["branches[0] (id 's').split.by", "heading, paragraph, size"], split='input = "doc", by = "chapter"')
    bad(["split.max_chars", "between 200"], split='input = "doc", max_chars = 10')
    bad(["unknown field 'size'"], split='input = "doc", size = 3')


def test_section_variables_only_in_split_branches():
    text = SPLIT.format(split='input = "doc"', prompt="x").replace('prompt = "then {title}"',
                                                                   'prompt = "then {section}"')
    with pytest.raises(UserError, match=r"\{section\} is only for branches with split"):
        recipes.parse(text, "doc.toml")


def test_a_mapping_branch_cannot_also_vote_or_batch():
    base = SPLIT.format(split='input = "doc"', prompt="{section}")
    with pytest.raises(UserError, match="cannot also vote"):
        recipes.parse(base.replace('title = "Sec"', 'title = "Sec"\nvote = { samples = 3 }'), "doc.toml")
    with pytest.raises(UserError, match="one of items, items_file, split or files"):
        recipes.parse(base.replace('title = "Sec"', 'title = "Sec"\nfiles = "*.md"'), "doc.toml")


def test_files_glob_expands_in_name_order_with_item_and_item_name(tmp_path):
    for name, text in (("b.md", "bee"), ("a.md", "ay"), ("skip.txt", "no")):
        (tmp_path / name).write_text(text)
    (tmp_path / "dir.md").mkdir()  # a folder matching the glob is not a file
    rec = recipes.parse('name = "f"\n[inputs]\ndocs = "x"\n[[branches]]\nid = "f"\nfiles = "{docs}"\n'
                        'prompt = "{item_name}: {item}"\n', "f.toml")
    ex = recipes.expand(rec, {"docs": f"{tmp_path}/*.md"})
    assert [dict(b.fills)["item_name"] for b in ex.branches] == [f"{tmp_path}/a.md", f"{tmp_path}/b.md"]
    assert branch_messages(ex, ex.branches[1], {}, "parallel", [])[-1].content == f"{tmp_path}/b.md: bee"
    with pytest.raises(UserError, match=r"f\.toml: branches\[0\] \(id 'f'\)\.files: .* matches no file"):
        recipes.expand(rec, {"docs": f"{tmp_path}/*.none"})
    (tmp_path / "big.md").write_text("x" * 100)
    with pytest.raises(UserError, match=r"big\.md: 100 bytes, above the 50-byte limit"):
        recipes.expand(rec, {"docs": f"{tmp_path}/*.md"}, max_file_bytes=50)


def test_shipped_summarize_and_digest_run_out_of_the_box():
    for name, count in (("summarize", 3), ("digest", 3)):
        rec = recipes.load(name)
        assert len(recipes.expand(rec, rec.inputs).branches) == count
