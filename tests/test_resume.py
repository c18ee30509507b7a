"""Runs that are killed continue from their last checkpoint (memlib.resume) and end exactly as an uninterrupted run."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from memlib import cache, data, models, noise, resume, train
from memlib.ensemble import fit_many

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 12

# The child trains on digits; each epoch is slowed by a pause (which changes no number) so that the parent can kill
# it in mid-run. It saves the History and the weights when it completes, and the number of epochs it trained.
CHILD = textwrap.dedent("""
    import sys, time, torch
    from memlib import data, ensemble, loop, models, noise, resume, train

    kind, checkpoint, out = sys.argv[1], sys.argv[2], sys.argv[3]
    trained = []
    check = loop.Records.check_finite
    def slow(self, row, epoch, first=0):
        trained.append(epoch)
        time.sleep(0.15)
        return check(self, row, epoch, first)
    loop.Records.check_finite = slow
    digits = data.load("digits", "train")
    noisy = noise.symmetric(digits.y, 0.2, 10, seed=0)
    settings = dict(epochs={epochs}, lr=0.05, weight_decay=5e-4, batch_size=128)
    plan = resume.Resume(checkpoint, every_epochs=1) if checkpoint != "-" else None
    if kind == "fit":
        nets = [models.build("mlp", 10, digits.shape, seed=0)]
        histories = [train.fit(nets[0], digits, labels=noisy, test=digits, seed=3, resume=plan, **settings)]
    else:
        nets = [models.build("mlp", 10, digits.shape, seed=s) for s in (0, 1)]
        histories = ensemble.fit_many(nets, digits, seeds=[0, 1], labels=noisy.labels, test=digits, resume=plan,
                                      **settings)
    torch.save({{"histories": [h.to_dict() for h in histories], "weights": [n.state_dict() for n in nets],
                "trained": len(trained)}}, out)
""").format(epochs=EPOCHS)


def _child(tmp_path, kind, checkpoint):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out = tmp_path / f"out-{kind}-{'ref' if checkpoint == '-' else 'resumed'}.pt"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MEMLIB_PROGRESS": "0"}
    command = [sys.executable, str(script), kind, str(checkpoint), str(out)]
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE), out


def _finish(process):
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()


@pytest.mark.parametrize("kind", ["fit", "fit_many"])
def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_run(tmp_path, kind):
    checkpoint = tmp_path / "run.pt"
    process, out = _child(tmp_path, kind, checkpoint)
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL and not out.exists()
    saved = torch.load(checkpoint, weights_only=True)["epoch"]
    assert 1 <= saved < EPOCHS

    resumed, out = _child(tmp_path, kind, checkpoint)
    _finish(resumed)
    reference, reference_out = _child(tmp_path, kind, "-")
    _finish(reference)
    got, want = torch.load(out, weights_only=True), torch.load(reference_out, weights_only=True)
    assert want["trained"] == EPOCHS and got["trained"] <= EPOCHS - saved  # it continued, it did not start over
    for mine, theirs in zip(got["histories"], want["histories"]):
        for name in ("labels", "predictions", "losses", "train_loss", "test_accuracy"):
            assert torch.equal(mine[name], theirs[name]), name
    for mine, theirs in zip(got["weights"], want["weights"]):
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


class Interrupt(train.Callback):
    """Raises KeyboardInterrupt at the end of epoch ``at`` while ``Interrupt.armed`` (a class attribute, so that
    a restored checkpoint cannot re-arm it)."""

    armed = False

    def __init__(self, at):
        self.at = at

    def on_epoch_end(self, state):
        if Interrupt.armed and state.epoch == self.at:
            raise KeyboardInterrupt


def _digits_run(tmp_path, at, armed, **overrides):
    digits = data.load("digits", "train")
    noisy = noise.symmetric(digits.y, 0.2, 10, seed=0)
    model = models.build("mlp", 10, digits.shape, seed=0)
    Interrupt.armed = armed
    settings = {**dict(epochs=5, lr=0.05, weight_decay=5e-4, batch_size=128, labels=noisy), **overrides}
    return model, train.fit(model, digits, callbacks=[Interrupt(at)],
                            resume=resume.Resume(tmp_path / "run.pt", every_epochs=1), **settings)


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _digits_run(tmp_path, at=2, armed=True)
    with pytest.raises(resume.CheckpointMismatch, match="other settings: lr=0.05 there, 0.1 here"):
        _digits_run(tmp_path, at=2, armed=False, lr=0.1)
    _, history = _digits_run(tmp_path, at=2, armed=False)
    assert history.epochs == 5


def test_a_checkpoint_made_with_another_loss_setting_is_refused(tmp_path):
    from memlib import elr

    def loss(lam):
        return elr.ELRLoss(1437, 10, lam=lam)

    with pytest.raises(KeyboardInterrupt):
        _digits_run(tmp_path, at=1, armed=True, loss=loss(3.0))
    with pytest.raises(resume.CheckpointMismatch, match="lam"):
        _digits_run(tmp_path, at=1, armed=False, loss=loss(1.0))


def test_a_cached_computation_resumes_its_runs_and_cleans_up(tmp_path):
    digits = data.load("digits", "train")
    epochs_trained = []

    class Count(train.Callback):
        def on_epoch_end(self, state):
            epochs_trained.append(state.epoch)

    def compute(fail):
        histories = []
        for seed in (0, 1):
            model = models.build("mlp", 10, digits.shape, seed=seed)
            histories.append(train.fit(model, digits, epochs=3, lr=0.05, weight_decay=0.0, batch_size=256,
                                       seed=seed, callbacks=[Count()]))
            if fail:
                raise KeyboardInterrupt  # killed after the first run finished
        return {"losses": [h.losses for h in histories]}

    with pytest.raises(KeyboardInterrupt):
        cache.cached({"test": "resume"}, lambda: compute(True), root=tmp_path)
    assert len(epochs_trained) == 3 and list((tmp_path / "runs").rglob("*-fit.pt"))
    epochs_trained.clear()
    result = cache.cached({"test": "resume"}, lambda: compute(False), root=tmp_path)
    assert len(epochs_trained) == 3  # the first run was finished: only the second one trained
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    fresh = compute(False)  # outside the cache: no checkpoints, the same numbers
    assert all(torch.equal(a, b) for a, b in zip(result["losses"], fresh["losses"]))


def test_fit_many_resumes_inside_a_cached_computation(tmp_path):
    digits = data.load("digits", "train")
    settings = dict(epochs=2, lr=0.05, weight_decay=0.0, batch_size=256)

    def compute():
        nets = [models.build("mlp", 10, digits.shape, seed=s) for s in (0, 1)]
        histories = fit_many(nets, digits, seeds=[0, 1], **settings)
        return {"losses": [h.losses for h in histories], "weights": [n.state_dict() for n in nets]}

    def failing():
        compute()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.cached({"test": "fit_many"}, failing, root=tmp_path)
    (checkpoint,) = (tmp_path / "runs").rglob("*-fit_many.pt")
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 2
    result = cache.cached({"test": "fit_many"}, compute, root=tmp_path)
    fresh = compute()
    assert all(torch.equal(a, b) for a, b in zip(result["losses"], fresh["losses"]))
    assert all(torch.equal(a[k], b[k]) for a, b in zip(result["weights"], fresh["weights"]) for k in a)
    assert not checkpoint.exists()


def test_resume_arguments_are_checked():
    with pytest.raises(ValueError, match="resume must be"):
        resume.plan(3, "fit")
    with pytest.raises(ValueError, match="every_epochs"):
        resume.Resume("x.pt", every_epochs=0)
    assert resume.plan(None, "fit") is None and resume.plan("auto", "fit") is None  # outside a cached computation


def test_a_loss_that_holds_its_network_and_a_replay_set_checkpoints_its_generator_only():
    from memlib import continual

    digits = data.load("digits")
    net = models.build("mlp", 10, digits.shape, seed=0)
    loss = continual.ReplayLoss(net, digits.subset(torch.arange(20)), batch_size=4, seed=1)
    state = resume.object_state(loss, dict(net.named_parameters()))
    assert set(state["attributes"]) == {"batch_size", "generator"}
    expected = torch.randint(20, (4,), generator=loss.generator)
    rebuilt = continual.ReplayLoss(net, digits.subset(torch.arange(20)), batch_size=4, seed=1)
    resume.load_object_state(rebuilt, state, dict(net.named_parameters()))
    assert torch.equal(torch.randint(20, (4,), generator=rebuilt.generator), expected) and rebuilt.model is net
