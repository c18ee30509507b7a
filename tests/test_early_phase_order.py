import pandas as pd
import pytest

from memlib import early_phase

MARKS = {"gradient_peak_step": 3, "half_distance_step": 4, "stable_step": 6, "memorization_step": 8,
         "total_steps": 10}
STABILITY = pd.DataFrame({"step": [0, 2, 6], "test_barrier": [0.3, 0.05, 0.01]})


def test_a_run_in_frankle_et_al_order_meets_every_check():
    checks = early_phase.order_checks(MARKS, STABILITY, threshold=0.02)
    assert list(checks) == list(early_phase.ORDER) and all(checks.values())


def test_each_check_fails_on_its_own():
    assert not early_phase.order_checks(MARKS, STABILITY.assign(test_barrier=[0.01, 0.05, 0.01]),
                                        0.02)["unstable_at_init"]
    assert not early_phase.order_checks(MARKS, STABILITY.assign(test_barrier=[0.3, 0.05, 0.03]),
                                        0.02)["stable_at_last"]
    late_peak = early_phase.order_checks({**MARKS, "gradient_peak_step": 7}, STABILITY, 0.02)
    assert not late_peak["peak_before_stable"] and late_peak["memorization_after_stable"]
    early_memory = early_phase.order_checks({**MARKS, "memorization_step": 6}, STABILITY, 0.02)
    assert not early_memory["memorization_after_stable"]
    never = early_phase.order_checks({**MARKS, "stable_step": float("nan")}, STABILITY, 0.02)
    assert not never["became_stable"] and not never["peak_before_stable"]
    assert not never["memorization_after_stable"]


def test_order_checks_read_the_milestones_of_a_run():
    marks = early_phase.milestones([1.0, 5.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1, 2, 3, 4, 5, 6, 7, 8], STABILITY,
                                   pd.DataFrame({"epoch": [1, 2, 3, 4], "true_label": [0.5, 0.6, 0.7, 0.9]}),
                                   steps_per_epoch=2, threshold=0.02, window=1)
    assert early_phase.order_checks(marks, STABILITY, 0.02) == dict.fromkeys(early_phase.ORDER, True)


def test_order_checks_want_a_stability_frame():
    with pytest.raises(ValueError, match="step and test_barrier"):
        early_phase.order_checks(MARKS, pd.DataFrame({"step": [0]}), 0.02)


def test_the_words_name_every_key_with_its_threshold():
    names = early_phase.milestone_names(threshold=0.02, window=5)
    assert list(names) == list(MARKS) and "2 points" in names["stable_step"] and "5-step" in names["gradient_peak_step"]
    criteria = early_phase.order_criteria(0.05)
    assert list(criteria) == list(early_phase.ORDER) and "5 points" in criteria["unstable_at_init"]
