import pandas as pd
import pytest

from memlib import pruning


def _records(variant, seed, tests):
    return pd.DataFrame({"round": range(len(tests)), "remaining": [0.8 ** r for r in range(len(tests))],
                         "test": tests, "variant": variant, "seed": seed})


def test_nearest_round_compares_shares_on_a_log_scale():
    records = _records("rewind to 0", 0, [0.9] * 15)
    # 0.8^13 = 0.055 and 0.8^14 = 0.044: on a log scale 0.05 is nearer 0.8^13.
    assert pruning.nearest_round(records, 0.05) == 13
    assert pruning.nearest_round(records, 1.0) == 0
    with pytest.raises(ValueError, match="share"):
        pruning.nearest_round(records, 0)


def test_sparsest_matching_stops_at_the_first_round_that_falls_short():
    records = pd.concat([_records("a", 0, [0.90, 0.91, 0.895, 0.85, 0.90]), _records("a", 1, [0.9, 0.7, 0.9])])
    sparsest = pruning.sparsest_matching(records, tolerance=0.01)
    assert sparsest[0] == pytest.approx(0.8 ** 2)  # round 3 falls short; round 4's recovery does not count
    assert sparsest[1] == 1.0  # only the dense network matches itself
    assert pruning.sparsest_matching(records, tolerance=0.2)[1] == pytest.approx(0.8 ** 2)


def test_variant_summary_compares_each_variant_with_its_seeds_dense_network():
    records = pd.concat([_records("rewind to 0", 0, [0.9, 0.9, 0.92]), _records("random pruning", 0, [0.9, 0.8, 0.7]),
                         _records("rewind to 0", 1, [0.8, 0.85, 0.8])], ignore_index=True)
    summary = pruning.variant_summary(records, share=0.8)
    assert summary[["variant", "seed"]].values.tolist() == [["rewind to 0", 0], ["random pruning", 0],
                                                           ["rewind to 0", 1]]
    row = summary.iloc[1]
    assert row.remaining_near == pytest.approx(0.8) and row.test_near == 0.8 and row.test_last == 0.7
    assert row.change_near == pytest.approx(-0.1) and row.sparsest_matching == 1.0
    assert summary.iloc[2].change_near == pytest.approx(0.05) and summary.iloc[2].dense == 0.8
