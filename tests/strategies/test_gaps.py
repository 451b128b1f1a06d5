"""The sentences of a report that name a gap or a contradiction: what a follow-up planner is shown beyond the
report's cut."""

from fanout.strategies.gaps import MOST, named_gaps

REPORT = ("Sulfide cells reached 25 mS/cm in 2025. Costs fell by a third. It remains unclear whether they survive "
          "a thousand cycles! Two labs report conflicting figures for dendrite growth.\nMore research is needed on "
          "recycling. Data on field failures is missing. Nothing else.")


def test_picks_the_sentences_that_name_gaps_or_contradictions_in_order():
    assert named_gaps(REPORT) == [
        "It remains unclear whether they survive a thousand cycles!",
        "Two labs report conflicting figures for dendrite growth.",
        "More research is needed on recycling.",
    ]
    assert len(named_gaps(REPORT)) == MOST and named_gaps("Costs fell. Output rose.") == []


def test_leaves_out_what_the_planner_is_shown_anyway_and_keeps_each_to_one_line():
    shown = REPORT.index("Two labs")
    assert named_gaps(REPORT, shown)[0] == "Two labs report conflicting figures for dendrite growth."
    long = "The open question " + "really " * 80 + "stays."
    (picked,) = named_gaps(long)
    assert picked.endswith(" [...]") and len(picked) <= 306
    assert named_gaps("The gap  in\tthe data is  wide.") == ["The gap in the data is wide."]
