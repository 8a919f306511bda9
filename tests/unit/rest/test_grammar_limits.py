"""The grammar's bounds on work a request can ask for: JSON paths, tsquery parentheses and logic trees
(issue 14, finding 5: `select=custom_fields->a->a…` 5,000 deep was a RecursionError 500, and
`search_vector=fts.` followed by 3,000 parentheses kept PostgreSQL busy past 35 s)."""

from __future__ import annotations

import pytest

from gardenos.rest.grammar import (
    MAX_DEPTH,
    MAX_JSON_PATH,
    QueryParseError,
    parse_filters,
    parse_order,
    parse_read,
    parse_select,
)


def _path(steps: int) -> str:
    return "custom_fields" + "->a" * steps


def test_json_paths_up_to_the_limit_parse() -> None:
    (item,) = parse_select(_path(MAX_JSON_PATH))
    assert len(item.ref.json_path) == MAX_JSON_PATH  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "parse",
    [
        lambda path: parse_select(path),
        lambda path: parse_order(path + ".desc"),
        lambda path: parse_read([(path, "eq.1")]),
        lambda path: parse_read([("or", f"({path}.eq.1)")]),
        lambda path: parse_filters([(path, "eq.1")]),
    ],
    ids=["select", "order", "filter key", "logic tree", "write filter"],
)
@pytest.mark.parametrize("steps", [MAX_JSON_PATH + 1, 5000])
def test_json_paths_past_the_limit_are_400(parse, steps: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryParseError) as caught:
        parse(_path(steps))
    assert caught.value.status_code == 400
    assert f"at most {MAX_JSON_PATH} steps" in str(caught.value.details)


def test_tsquery_parentheses_up_to_the_limit_parse() -> None:
    value = "(" * MAX_DEPTH + "cat" + ")" * MAX_DEPTH
    (condition,) = parse_read([("search_vector", "fts." + value)]).where
    assert condition.value == value  # type: ignore[union-attr]


@pytest.mark.parametrize("operator", ["fts", "fts(english)", "not.fts"])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 3000])
def test_tsquery_parentheses_past_the_limit_are_400(operator: str, depth: int) -> None:
    with pytest.raises(QueryParseError) as caught:
        parse_read([("search_vector", f"{operator}." + "(" * depth + "cat" + ")" * depth)])
    assert f"at most {MAX_DEPTH} levels" in str(caught.value.details)


def test_tsquery_parentheses_inside_a_logic_tree_are_bounded_too() -> None:
    deep = "(" * (MAX_DEPTH + 1) + "cat" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(QueryParseError):
        parse_read([("or", f'(search_vector.fts."{deep}",id.eq.1)')])


def test_parentheses_in_other_operators_are_data() -> None:
    # Only to_tsquery reads parentheses as grouping; elsewhere they are plain characters.
    value = "(" * 100 + "x"
    (condition,) = parse_read([("name", "like." + value)]).where
    assert condition.value == value  # type: ignore[union-attr]


def test_logic_trees_3000_deep_are_400_not_a_recursion_error() -> None:
    with pytest.raises(QueryParseError):
        parse_read([("or", "(" + "and(" * 3000 + "a.eq.1" + ")" * 3001)])
