"""Lottery tickets on the embedded digits (quick profile): Frankle & Carbin 2019, Fig. 3 and 4, at small scale."""
from memlib import models, pruning, settings
from memlib.train import fit

# Chapter 8's quick setup (LeNet-300-100 on the digits): its recipe with seed 0, and its pruning rate.
QUICK = settings.chapter(8).config("quick")["setups"][0]
SETTINGS = {**QUICK["fit"], "seed": 0}


def test_a_rewound_ticket_at_5_percent_matches_the_dense_network_and_its_controls_do_not(
        digits_train, digits_test):
    """Frankle & Carbin's controls as open_lth runs them: the ticket's own masks re-initialized
    (``randomly_reinitialize``), and its masks shuffled within each layer (``randomly_prune``, layerwise)."""
    def build(seed):
        return models.build("lenet300", 10, digits_train.shape, seed=seed)

    def train(model, callbacks, start_step):
        return fit(model, digits_train, test=digits_test, callbacks=callbacks, start_step=start_step,
                   **SETTINGS)

    found = pruning.imp(build, train, rounds=5, fraction=QUICK["fraction"], rewind="init")
    reinit = pruning.imp(build, train, rounds=5, rewind="random", masks=found.masks)
    shuffled = [pruning.shuffle_masks(masks, seed=r) for r, masks in enumerate(found.masks)]
    randomly_pruned = pruning.imp(build, train, rounds=5, rewind="init", masks=shuffled)
    for ticket_masks, reinit_masks, random_masks in zip(found.masks, reinit.masks, randomly_pruned.masks):
        for name, mask in ticket_masks.items():
            assert reinit_masks[name].equal(mask)  # the control trains exactly the ticket's masks
            assert int(random_masks[name].sum()) == int(mask.sum())  # and the ticket's per-layer sparsity
    ticket, reinit, randomly_pruned = found.to_frame(), reinit.to_frame(), randomly_pruned.to_frame()
    print(ticket, reinit, randomly_pruned, sep="\n")
    dense, sparse = ticket.iloc[0], ticket.iloc[-1]
    assert 0.045 < sparse.remaining < 0.055
    assert sparse.test >= dense.test - 0.02
    assert reinit.iloc[-1].test <= sparse.test - 0.02
    assert randomly_pruned.iloc[-1].test <= sparse.test - 0.02
