import pytest
import torch
import torch.nn.functional as F

from memlib import models, noise
from memlib.elr import ELRLoss
from memlib.train import fit


def direct(logits, labels, targets, beta, lam):
    """Liu et al. 2020 written out: the updated targets, then CE + lam · mean log(1 − <t, p>)."""
    p = torch.softmax(logits, dim=1).clamp(1e-4, 1 - 1e-4)
    q = p.detach() / p.detach().sum(dim=1, keepdim=True)
    t = beta * targets + (1 - beta) * q
    ce = -torch.log_softmax(logits, dim=1)[torch.arange(len(labels)), labels].mean()
    return ce + lam * torch.log(1 - (t * p).sum(dim=1)).mean(), t


@pytest.mark.parametrize("beta, lam", [(0.7, 3.0), (0.3, 1.0), (0.0, 0.5)])
def test_loss_and_gradient_equal_the_formula(beta, lam):
    generator = torch.Generator().manual_seed(0)
    loss = ELRLoss(20, 5, beta=beta, lam=lam)
    start = torch.rand(20, 5, generator=generator)
    loss.targets = start / start.sum(dim=1, keepdim=True)  # targets from earlier updates
    index = torch.tensor([3, 17, 0, 8, 11, 4])
    labels = torch.randint(0, 5, (6,), generator=generator)
    logits = (3 * torch.randn(6, 5, generator=generator, dtype=torch.float64)).float().requires_grad_()
    twin = logits.detach().clone().requires_grad_()

    value = loss(logits, labels, index)
    value.backward()
    expected, targets = direct(twin, labels, start[index] / start[index].sum(dim=1, keepdim=True), beta, lam)
    expected.backward()
    assert torch.allclose(value, expected, atol=1e-6)
    assert torch.allclose(logits.grad, twin.grad, atol=1e-6)
    assert torch.allclose(loss.targets[index], targets, atol=1e-7)
    untouched = torch.ones(20, dtype=torch.bool)
    untouched[index] = False
    assert torch.equal(loss.targets[untouched], (start / start.sum(dim=1, keepdim=True))[untouched])


def test_the_regularizer_pulls_towards_the_target():
    """With a target on class 0, the ELR term's gradient raises the logit of class 0 (lam > 0), which plain
    cross-entropy towards the noisy label 1 would not."""
    loss = ELRLoss(1, 3, beta=0.9, lam=3.0)
    loss.targets[0] = torch.tensor([1.0, 0.0, 0.0])
    logits = torch.tensor([[1.0, 1.0, 0.0]], requires_grad=True)
    (loss(logits, torch.tensor([1]), torch.tensor([0])) - F.cross_entropy(logits, torch.tensor([1]))).backward()
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]


def test_targets_after_k_updates_follow_the_closed_form():
    """Each update is t ← beta t + (1 − beta) q, from t = 0: after predictions q_1..q_k,
    t_k = (1 − beta) Σ_j beta^(k − j) q_j, and for a constant prediction q, t_k = (1 − beta^k) q."""
    beta, k = 0.7, 6
    generator = torch.Generator().manual_seed(1)
    sequence = torch.randn(k, 4, generator=generator)
    loss = ELRLoss(3, 4, beta=beta)
    labels, index = torch.tensor([2]), torch.tensor([1])
    for logits in sequence:
        loss(logits[None], labels, index)
    q = torch.softmax(sequence, dim=1).clamp(1e-4, 1 - 1e-4)
    q = q / q.sum(dim=1, keepdim=True)
    weights = (1 - beta) * beta ** torch.arange(k - 1, -1, -1, dtype=torch.float32)
    assert torch.allclose(loss.targets[1], (weights[:, None] * q).sum(dim=0), atol=1e-6)
    assert torch.equal(loss.targets[[0, 2]], torch.zeros(2, 4))

    constant = ELRLoss(3, 4, beta=beta)
    for _ in range(k):
        constant(sequence[:1], labels, index)
    assert torch.allclose(constant.targets[1], (1 - beta ** k) * q[0], atol=1e-6)


def test_flag_mislabeled_recovers_most_noisy_labels_after_training_on_digits(digits_train):
    """Liu et al. 2020: the targets follow the early, mostly correct predictions, so argmax(t) points to the true
    class of most mislabeled examples."""
    noisy = noise.symmetric(digits_train.y, 0.4, 10, seed=0)
    loss = ELRLoss(len(digits_train), 10)
    model = models.build("mlp", 10, digits_train.shape, seed=0)
    fit(model, digits_train, labels=noisy, loss=loss, epochs=20, lr=0.1, weight_decay=5e-4, batch_size=64, seed=0)
    flagged = loss.flag_mislabeled(noisy)
    found = int((flagged & noisy.is_noisy).sum())
    assert found / int(noisy.is_noisy.sum()) >= 0.8  # recall
    assert found / int(flagged.sum()) >= 0.8  # precision
    assert torch.equal(flagged, loss.flag_mislabeled(noisy.labels))


@pytest.mark.parametrize("options, match", [
    (dict(beta=1.0), "beta"), (dict(beta=-0.1), "beta"), (dict(lam=-1.0), "lam"),
    (dict(num_examples=0), "num_examples"), (dict(num_classes=1), "num_classes"),
])
def test_bad_settings_are_refused(options, match):
    settings = {"num_examples": 10, "num_classes": 3, **options}
    with pytest.raises(ValueError, match=match):
        ELRLoss(settings.pop("num_examples"), settings.pop("num_classes"), **settings)


@pytest.mark.parametrize("logits, labels, index, match", [
    (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.tensor([0, 10]), r"\[0, 10\)"),
    (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.tensor([-1, 0]), r"\[0, 10\)"),
    (torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), torch.tensor([0, 1]), "3 classes"),
    (torch.zeros(2, 3), torch.zeros(3, dtype=torch.long), torch.tensor([0, 1]), r"one per example \(2\)"),
    (torch.zeros(2, 3), torch.tensor([0, 3]), torch.tensor([0, 1]), r"\[0, 3\)"),
    (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.tensor([0]), "one entry per"),
    (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.tensor([0.0, 1.0]), "integer"),
])
def test_bad_batches_are_refused(logits, labels, index, match):
    with pytest.raises(ValueError, match=match):
        ELRLoss(10, 3)(logits, labels, index)


def test_flag_mislabeled_wants_one_label_per_example():
    with pytest.raises(ValueError, match="one per example"):
        ELRLoss(10, 3).flag_mislabeled(torch.zeros(9, dtype=torch.long))
