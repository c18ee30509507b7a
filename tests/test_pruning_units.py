import torch

from memlib import dropout, models, pruning


def tied_lenet():
    return models.build("lenet300", 10, (1, 8, 8), seed=0, dropout="example_tied", num_examples=50, p_gen=0.4,
                        p_mem=0.2)


def test_example_tied_weights_reads_each_units_row_in_and_column_out():
    model = tied_lenet()
    layers = [m for m, _ in pruning.prunable(model, exclude_output=False)]
    tied = dropout.example_tied_layers(model)
    memory = dropout.memorization_units(tied[0])
    with torch.no_grad():
        layers[0].weight[memory] = 0.0          # the memorization units of layer 1 receive nothing
        layers[1].weight[:, memory] *= 3.0      # and send out three times as much
    rows = pruning.example_tied_weights(model)
    assert [(r["layer"], r["direction"]) for r in rows] == [(1, "incoming"), (1, "outgoing"), (2, "incoming"),
                                                           (2, "outgoing")]
    incoming, outgoing = rows[0], rows[1]
    assert incoming["memory"].abs().max() == 0 and incoming["memory_larger"] < 0.5
    assert len(incoming["general"]) == int((~memory).sum()) * layers[0].weight.shape[1]
    assert outgoing["memory"].mean() > 2 * outgoing["general"].mean() and outgoing["memory_larger"] > 0.5
    assert incoming["general_kept"] == incoming["memory_kept"] == 1.0


def test_example_tied_weights_counts_what_the_masks_keep():
    model = tied_lenet()
    pairs = pruning.prunable(model, exclude_output=False)
    first = pairs[0][0]
    memory = dropout.memorization_units(dropout.example_tied_layers(model)[0])
    chosen = {name: torch.ones_like(m) for name, m in pruning.masks(model, pairs).items()}
    name = next(iter(chosen))
    chosen[name][memory] = False                # prune every weight into layer 1's memorization units
    pruning.set_masks(model, chosen, pairs)
    row = pruning.example_tied_weights(model)[0]
    assert row["memory_kept"] == 0.0 and row["general_kept"] == 1.0 and first.weight.shape[0] == len(memory)


def test_ticket_effects_read_each_question_from_the_frames():
    import pandas as pd

    rows = []
    for network, ticket_fit, random_fit in (("example-tied", 0.9, 0.1), ("standard", 0.5, 0.3)):
        for seed in (0, 1):
            for variant, fit in (("ticket", ticket_fit), ("random masks", random_fit)):
                rows += [dict(network=network, variant=variant, seed=seed, round=0, memorized=1.0, test=0.9),
                         dict(network=network, variant=variant, seed=seed, round=2, memorized=fit, test=0.85)]
    units = pd.DataFrame([dict(seed=s, round=r, general_mean=0.2, memory_mean=0.1, general_kept=0.5,
                               memory_kept=0.25 if r else 1.0) for s in (0, 1) for r in (0, 2)])
    effects = pruning.ticket_effects(pd.DataFrame(rows), units)
    assert effects["forgetting", "example-tied"].round(6).tolist() == [-0.8, -0.8]
    assert effects["forgetting", "standard"].round(6).tolist() == [-0.2, -0.2]
    assert effects["weights", "example-tied"].tolist() == [0.5, 0.5]
    assert effects["pruning", "example-tied"].tolist() == [0.5, 0.5]
    assert abs(effects["test_loss", "standard"] - 0.05) < 1e-9
