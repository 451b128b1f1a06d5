"""Cutting documents into sections, on hand-made documents: every section within the limit, no text lost."""

from __future__ import annotations

import pytest

from fanout.strategies.sections import split


def words(text: str) -> list[str]:
    return text.split()


def check(sections, text, max_chars):
    """The invariants of every split: within the limit, numbered, nothing lost or reordered."""
    assert all(len(s.text) <= max_chars for s in sections)
    assert [s.index for s in sections] == list(range(1, len(sections) + 1))
    assert all(s.count == len(sections) for s in sections)
    assert words(" ".join(s.text for s in sections)) == words(text)


NESTED = """# Guide

Intro line.

## Install

Run the script.

### On Linux

apt-get install it.

### On macOS

brew install it.

## Use

Start it.
"""


def test_nested_headings_cut_at_the_level_under_the_title():
    sections = split(NESTED, "heading", 4000)
    assert [s.title for s in sections] == ["Guide", "Install", "Use"]
    assert sections[0].text == "# Guide\n\nIntro line."
    assert "### On Linux" in sections[1].text and "### On macOS" in sections[1].text  # it fits: kept whole
    check(sections, NESTED, 4000)


def test_a_section_over_the_limit_is_cut_again_at_its_sub_headings():
    sections = split(NESTED, "heading", 40)
    titles = [s.title for s in sections]
    assert "Install › On Linux" in titles and "Install › On macOS" in titles
    check(sections, NESTED, 40)


def test_a_section_exactly_at_the_limit_stays_whole_and_one_more_character_cuts_it():
    doc = "## A\n\n" + "x " * 47 + "y\n\n## B\n\nshort"
    first = doc.split("\n\n## B")[0]
    at = split(doc, "heading", len(first))
    assert [s.title for s in at] == ["A", "B"] and at[0].text == first
    under = split(doc, "heading", len(first) - 1)
    assert len(under) > 2 and all(len(s.text) <= len(first) - 1 for s in under)
    check(under, doc, len(first) - 1)


def test_no_headings_falls_back_to_paragraphs_titled_by_part():
    doc = "First paragraph here.\n\nSecond one.\n\nThird."
    sections = split(doc, "heading", 30)
    assert [s.title for s in sections] == ["part 1 of 2", "part 2 of 2"]
    assert sections[0].text == "First paragraph here."
    check(sections, doc, 30)


def test_one_giant_paragraph_is_cut_at_whitespace():
    doc = " ".join(f"word{i}" for i in range(5000))
    sections = split(doc, "paragraph", 1000)
    assert len(sections) > 30
    assert all(not s.text.startswith(" ") and not s.text.endswith(" ") for s in sections)
    # cut at whitespace: every piece ends with a whole word
    assert all(s.text.split()[-1].startswith("word") and s.text.split()[-1][4:].isdigit() for s in sections)
    check(sections, doc, 1000)


def test_a_word_longer_than_the_limit_is_the_only_mid_word_cut():
    doc = "a " + "z" * 25 + " b"
    sections = split(doc, "size", 10)
    assert [s.text for s in sections] == ["a", "z" * 10, "z" * 10, "z" * 5 + " b"]


def test_crlf_and_lone_cr_line_endings_split_like_lf():
    lf = "# T\n\n## A\n\none\n\n## B\n\ntwo\n"
    for doc in (lf.replace("\n", "\r\n"), lf.replace("\n", "\r")):
        sections = split(doc, "heading", 100)
        assert [(s.title, s.text) for s in sections] == [(s.title, s.text) for s in split(lf, "heading", 100)]
        assert all("\r" not in s.text for s in sections)
    assert [s.title for s in split(lf, "heading", 100)] == ["A", "B"]


def test_paragraphs_are_packed_up_to_the_limit():
    doc = "aaaa\n\nbbbb\n\ncccc\n\n   \n\ndddd"
    sections = split(doc, "paragraph", 10)
    assert [s.text for s in sections] == ["aaaa\n\nbbbb", "cccc\n\ndddd"]


def test_hashes_inside_fenced_code_are_not_headings():
    doc = "## Build\n\n```sh\n# not a heading\nmake\n```\n\n## Test\n\nrun it"
    assert [s.title for s in split(doc, "heading", 1000)] == ["Build", "Test"]


def test_unicode_is_counted_in_characters_and_kept_intact():
    doc = "## Été\n\n" + "café naïve 東京 " * 30 + "\n\n## Ωmega\n\nλ"
    sections = split(doc, "heading", 120)
    assert sections[0].title.startswith("Été") and sections[-1].title == "Ωmega"
    check(sections, doc, 120)


def test_text_before_the_first_heading_is_its_own_section():
    doc = "Preface words.\n\n## One\n\nbody\n\n## Two\n\nbody"
    assert [s.title for s in split(doc, "heading", 100)] == ["part 1 of 3", "One", "Two"]


def test_empty_and_blank_documents_have_no_sections():
    assert split("", "heading", 100) == [] and split(" \n\n \r\n", "paragraph", 100) == []


@pytest.mark.parametrize("by", ["heading", "paragraph", "size"])
def test_every_strategy_keeps_every_word_of_a_long_document(by):
    from pathlib import Path

    # A fixed copy of a real Markdown page (headings, tables, code fences), so the docs can change freely.
    document = (Path(__file__).parents[1] / "support" / "data" / "long_document.md").read_text()
    sections = split(document, by, 1500)
    assert len(sections) > 3
    check(sections, document, 1500)


def test_unknown_strategy_and_bad_limit_are_errors():
    with pytest.raises(ValueError, match="unknown split"):
        split("x", "chapter", 10)
    with pytest.raises(ValueError):
        split("x", "size", 0)
