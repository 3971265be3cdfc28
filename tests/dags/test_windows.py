"""One rule for the days a manual run names: the score and stability DAGs share the params `date`, `start` and
`end`, and both planners read a window as the dataset's business days (its calendar), as the CLI does."""

from __future__ import annotations

import shlex

from tests.helpers import load_dag

# Bank Marketing calls on weekdays, not on holidays: Thursday 2008-05-01 is a holiday, 3 and 4 May a weekend
HOLIDAY_TO_SUNDAY = {"start": "2008-05-01", "end": "2008-05-04"}


def test_score_and_stability_take_the_same_window_params():
    def window(dag_file: str, dag_id: str) -> dict:
        params = load_dag(dag_file, dag_id).params
        return {name: {k: v for k, v in params.get_param(name).schema.items() if k != "description"}
                for name in ("date", "start", "end")}

    assert window("score.py", "score_bank_marketing") == window("stability.py", "stability_bank_marketing")


def test_a_window_is_the_business_days_of_the_dataset_calendar():
    from riskops_airflow.monitoring import plan_stability
    from riskops_airflow.templates import window_dates

    assert window_dates("bank_marketing", HOLIDAY_TO_SUNDAY) == ["2008-05-02"]
    assert window_dates("bank_marketing", {"date": "2008-05-02"}) == ["2008-05-02"]
    assert window_dates("bank_marketing", {}) is None
    assert window_dates("card_transactions", HOLIDAY_TO_SUNDAY) == ["2008-05-01", "2008-05-02", "2008-05-03",
                                                                     "2008-05-04"]  # its calendar: every day
    (command,) = plan_stability("bank_marketing", HOLIDAY_TO_SUNDAY, {}, "manual__1")
    args = shlex.split(command)
    assert args[args.index("--start") + 1] == args[args.index("--end") + 1] == "2008-05-02"
