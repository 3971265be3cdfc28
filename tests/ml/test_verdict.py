"""The candidate verdict rule."""

from ml.model.verdict import NOT_RECOMMENDED, RECOMMENDED, verdict


def test_first_model_is_recommended():
    assert verdict(0.61, None, 0.005) == (RECOMMENDED, "first model for this dataset: no champion to beat")


def test_the_margin_is_inclusive_and_the_reason_names_both_aucs():
    assert verdict(0.805, 0.800, 0.005)[0] == RECOMMENDED
    decision, reason = verdict(0.8049, 0.800, 0.005)
    assert decision == NOT_RECOMMENDED and "0.8049" in reason and "0.8000" in reason and "0.005" in reason
