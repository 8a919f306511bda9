"""The planned count is read from the node that scans the table, below aggregates and one-time filters,
past the RLS policy's InitPlan."""

from __future__ import annotations

from gardenos.rest.execute import planned_rows


def test_the_scan_under_an_aggregate_and_a_one_time_filter_gives_the_count() -> None:
    plan = {
        "Node Type": "Aggregate",
        "Plan Rows": 1,
        "Plans": [
            {"Node Type": "Result", "Parent Relationship": "InitPlan", "Plan Rows": 1},
            {
                "Node Type": "Result",
                "Parent Relationship": "Outer",
                "Plan Rows": 5_071_075,
                "Plans": [
                    {
                        "Node Type": "Index Only Scan",
                        "Parent Relationship": "Outer",
                        "Relation Name": "leads",
                        "Plan Rows": 5_071_075,
                    }
                ],
            },
        ],
    }
    assert planned_rows(plan) == 5_071_075


def test_a_plan_without_a_table_gives_its_own_rows() -> None:
    assert planned_rows({"Node Type": "Result", "Plan Rows": 3}) == 3
