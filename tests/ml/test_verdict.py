"""The candidate verdict rule: the margin, and the uncertainty of a small out-of-time test."""

from ml.model.verdict import NOT_RECOMMENDED, RECOMMENDED, verdict
from ml.ranking import AucDifference


def test_a_first_model_is_recommended_when_it_ranks_better_than_chance():
    decision, reason = verdict(0.61, 0.55, 0.67, None, None, 0.005, 5000)
    assert decision == RECOMMENDED
    assert reason == ("first model for this dataset: no champion to beat; out-of-time AUC 0.6100 (95% CI 0.5500 to "
                      "0.6700, 5000 test rows)")


def test_a_model_that_cannot_be_told_from_chance_is_not_recommended():
    for champion, gain in ((None, None), (0.5, AucDifference(0.12, 0.01))):
        decision, reason = verdict(0.62, 0.49, 0.75, champion, gain, 0.005, 230)
        assert decision == NOT_RECOMMENDED
        assert "(95% CI 0.4900 to 0.7500, 230 test rows) cannot be told from chance (0.5)" in reason


def test_the_margin_is_inclusive_and_the_reason_names_both_aucs():
    assert verdict(0.805, 0.79, 0.82, 0.800, AucDifference(0.005, 0.001), 0.005, 9000)[0] == RECOMMENDED
    decision, reason = verdict(0.8049, 0.79, 0.82, 0.800, AucDifference(0.0049, 0.001), 0.005, 9000)
    assert decision == NOT_RECOMMENDED and "0.8049" in reason and "0.8000" in reason and "0.005" in reason
    assert "gain +0.0049 (95% CI 0.0029 to 0.0069, paired) does not beat the champion by the margin 0.005" in reason


def test_a_gain_within_its_interval_of_noise_is_not_recommended():
    """~230 test rows: a gain of 0.02 has an interval of about +/-0.04."""
    decision, reason = verdict(0.74, 0.68, 0.80, 0.72, AucDifference(0.02, 0.02), 0.005, 230)
    assert decision == NOT_RECOMMENDED
    assert reason.endswith("gain +0.0200 (95% CI -0.0192 to 0.0592, paired) reaches the margin 0.005, but its "
                           "interval includes no gain: not shown to be better on this test sample")
    assert verdict(0.74, 0.68, 0.80, 0.72, AucDifference(0.02, 0.005), 0.005, 20000)[0] == RECOMMENDED
