import math

from memlib import report


def test_mean_sd_shows_mean_and_sample_sd_and_dashes_for_nothing():
    assert report.mean_sd([0.5, 0.7]) == "60.0 ± 14.1%"
    assert report.mean_sd([3, 5, None], 1, "", 0) == "4 ± 1"
    assert report.mean_sd([0.25]) == "25.0%"
    assert report.mean_sd([math.nan]) == report.MISSING


def test_table_formats_named_columns_and_never_shows_nan():
    text = report.table([{"rate": 0.1, "acc": 0.912, "epoch": 3}, {"rate": 0.2, "acc": math.nan, "epoch": None}],
                        {"rate": ("noise rate", ".0%"), "acc": ("test accuracy", report.percent), "epoch": "epoch"})
    lines = text.splitlines()
    assert lines[0] == "| noise rate | test accuracy | epoch |"
    assert lines[2] == "| 10% | 91.2% | 3 |"
    assert lines[3] == "| 20% | — | — |"
    assert "nan" not in text.lower()


def test_words_follow_the_numbers():
    assert report.trend([1, 2, 3], "grows", "shrinks") == "grows"
    assert report.trend([3, 2, 1], "grows", "shrinks") == "shrinks"
    assert report.trend([1, 3, 2], "grows", "shrinks") == "does not move in one direction"
    assert report.compare(0.5, 0.2, "more", "less", "same", tolerance=0.1) == "more"
    assert report.compare(0.25, 0.2, "more", "less", "same", tolerance=0.1) == "same"
    assert report.compare(0.0, 0.2, "more", "less", "same") == "less"
    assert report.count(3, 3, "seed") == "every seed" and report.count(0, 3, "seed") == "no seed"
    assert report.count(2, 3, "seed") == "2 of 3 seeds" and report.plural(1, "seed") == "1 seed"


def test_t_interval_and_the_rule_that_reads_it():
    mean, low, high = report.t_interval([0.2, 0.3, 0.4])
    assert abs(mean - 0.3) < 1e-12 and low < 0.3 < high and abs((high - low) / 2 - 4.303 * 0.1 / 3 ** 0.5) < 1e-3
    assert report.t_interval([0.5]) == (0.5, None, None) and report.t_interval([]) == (None, None, None)
    assert report.decide((0.3, 0.1, 0.5), 0.2) == "supported"
    assert report.decide((0.3, 0.1, 0.5), 0.2, also=False) == "neither"
    assert report.decide((-0.5, -0.6, -0.4), 0.1) == "refuted"
    assert report.decide((0.05, -0.1, 0.2), 0.1) == "neither" and report.decide((0.5, None, None), 0.1) == "neither"


def test_difference_names_the_direction_and_the_amount():
    assert report.difference(0.123, "{} more", "{} fewer", "as many") == "12.3 points more"
    assert report.difference(-0.05, "{} more", "{} fewer", "as many", unit="%", digits=0) == "5% fewer"
    assert report.difference(0.0004, "{} more", "{} fewer", "as many") == "as many"
    assert report.difference(None, "{} more", "{} fewer", "as many") == report.MISSING


def test_a_chain_of_answers_holds_only_if_every_link_does():
    assert report.all_of(["supported"] * 3) == "supported"
    assert report.all_of(["supported", "refuted", "neither"]) == "refuted"
    assert report.all_of(["supported", "neither"]) == "neither supported nor refuted"
