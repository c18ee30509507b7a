"""Lottery tickets on the embedded digits (quick profile): Frankle & Carbin 2019, Fig. 3 and 4, at small scale."""
from memlib import models, pruning, settings
from memlib.train import fit

# Chapter 8's quick setup (LeNet-300-100 on the digits): its recipe with seed 0, and its pruning rate.
QUICK = settings.chapter(8).config("quick")["setups"][0]
SETTINGS = {**QUICK["fit"], "seed": 0}


def test_a_rewound_ticket_at_5_percent_matches_the_dense_network_and_random_reinit_does_not(
        digits_train, digits_test):
    def build(seed):
        return models.build("lenet300", 10, digits_train.shape, seed=seed)

    def train(model, callbacks, start_step):
        return fit(model, digits_train, test=digits_test, callbacks=callbacks, start_step=start_step,
                   **SETTINGS)

    ticket = pruning.imp(build, train, rounds=5, fraction=QUICK["fraction"], rewind="init").to_frame()
    reinit = pruning.imp(build, train, rounds=5, fraction=QUICK["fraction"], rewind="random").to_frame()
    print(ticket, reinit, sep="\n")
    dense, sparse = ticket.iloc[0], ticket.iloc[-1]
    assert 0.045 < sparse.remaining < 0.055
    assert sparse.test >= dense.test - 0.02
    assert reinit.iloc[-1].test <= sparse.test - 0.02
