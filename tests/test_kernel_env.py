"""The kernel's environment reader, which every settings reader uses: each kind of value, and
every problem collected with its variable's name so start-up reports them all at once.
"""

from __future__ import annotations

from kernel.env import EnvReader, describe_problems, parse_fraction


def test_each_kind_of_value_is_read() -> None:
    read = EnvReader(
        {
            "A_INT": " 7 ",
            "A_NUM": "0.5",
            "A_BOOL": "Yes",
            "A_CHOICE": "withhold",
            "A_LIST": " x, ,y ",
            "A_BLANK_LIST": " ",
            "A_BLANK": "  ",
        }
    )
    assert read.integer("A_INT", 1, 0, 10) == 7
    assert read.integer("A_BLANK", 1, 0, 10) == 1
    assert read.optional_integer("A_BLANK", 0, 10) is None
    assert read.number("A_NUM", 1.0, 0.0, 1.0) == 0.5
    assert read.boolean("A_BOOL", False) is True
    assert read.choice("A_CHOICE", "BLOCK", ("BLOCK", "WITHHOLD")) == "WITHHOLD"
    assert read.items("A_LIST") == ["x", "y"]
    assert read.items("A_BLANK_LIST") == []
    assert read.items("A_UNSET") is None
    assert read.first("A_UNSET", "A_BLANK", "A_INT") == "7"
    assert read.problems == []


def test_every_problem_is_collected_naming_its_variable() -> None:
    problems: list[str] = []
    read = EnvReader(
        {"P_INT": "x", "P_RANGE": "11", "P_NUM": "nan", "P_BOOL": "maybe", "P_CHOICE": "c"},
        problems,
        prefix="P_",
    )
    assert read.integer("INT", 1, 0, 10) == 1
    assert read.integer("RANGE", 1, 0, 10) == 1
    assert read.number("NUM", 2.0, 0.0, 5.0) == 2.0
    assert read.boolean("BOOL", True) is True
    assert read.choice("CHOICE", "a", ("a", "b", "d")) == "a"
    assert read.required("MISSING") == ""
    assert problems == [
        "P_INT='x': expected a whole number",
        "P_RANGE='11': expected a number from 0 to 10",
        "P_NUM='nan': expected a number from 0.0 to 5.0",
        "P_BOOL='maybe': expected true or false",
        "P_CHOICE='c': expected one of a, b, d",
        "P_MISSING: required",
    ]
    assert describe_problems(problems[:2]).splitlines() == [
        "invalid configuration:",
        "  P_INT='x': expected a whole number",
        "  P_RANGE='11': expected a number from 0 to 10",
    ]


def test_fractions_are_positive_whole_numbers() -> None:
    assert parse_fraction("9/20") == (9, 20)
    assert parse_fraction("3") == (3, 1)
    for bad in ("0/1", "1/0", "-1/2", "a/b", "1.5/2", ""):
        assert parse_fraction(bad) is None
