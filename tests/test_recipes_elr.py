import pytest

from memlib import elr, recipes

FIT = dict(epochs=2, lr=0.1, weight_decay=5e-4, batch_size=64)
ELR = dict(beta=0.7, lam=3.0)


def test_elr_comparison_trains_ce_and_elr_at_every_rate_and_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    result = recipes.elr_comparison("digits", "mlp", noise_rates=[0.2, 0.4], seeds=2, fit=FIT, elr_options=ELR,
                                    examples=300)
    timeline, flags = result["timeline"], result["flags"]
    runs = timeline.groupby(["noise", "seed", "method"]).epoch.apply(list)
    assert runs.index.tolist() == [(r, s, m) for r in (0.2, 0.4) for s in (0, 1) for m in ("CE", "ELR")]
    assert all(epochs == [1, 2] for epochs in runs)
    assert flags[["noise", "seed"]].values.tolist() == [[0.2, 0], [0.2, 1], [0.4, 0], [0.4, 1]]
    # Each row is one noisy_label_run: the ELR run's own timeline and the scores of its own flags.
    run = recipes.noisy_label_run("digits", "mlp", noise_rate=0.4, seed=1, fit=FIT, examples=300, elr_options=ELR)
    mine = timeline[(timeline.noise == 0.4) & (timeline.seed == 1) & (timeline.method == "ELR")]
    assert mine.drop(columns="method").reset_index(drop=True).equals(run["timeline"])
    assert flags.iloc[3][["precision", "recall"]].to_dict() == elr.flag_scores(run["flagged"], run["is_noisy"])
    ce = timeline[(timeline.noise == 0.4) & (timeline.seed == 1) & (timeline.method == "CE")]
    columns = ["clean", "memorized", "true_label", "test"]  # the same network and labels, another loss
    assert not ce[columns].reset_index(drop=True).equals(mine[columns].reset_index(drop=True))


def test_elr_comparison_wants_a_count_of_seeds():
    with pytest.raises(ValueError, match="seeds"):
        recipes.elr_comparison("digits", "mlp", noise_rates=[0.2], seeds=0, fit=FIT, elr_options=ELR)
