import pytest
import torch

from memlib import elr


def test_flag_scores_count_the_flags_that_hit_the_planted_noise():
    is_noisy = torch.tensor([True, True, True, True, False, False, False, False])
    flagged = torch.tensor([True, True, True, False, True, False, False, False])  # 3 of 4 found, 1 false alarm
    scores = elr.flag_scores(flagged, is_noisy)
    assert scores == {"precision": 3 / 4, "recall": 3 / 4}
    assert elr.flag_scores(is_noisy, is_noisy) == {"precision": 1.0, "recall": 1.0}
    assert elr.flag_scores(torch.zeros(8, dtype=torch.bool), is_noisy) == {"precision": 0.0, "recall": 0.0}


def test_flag_scores_of_a_real_elr_loss_read_its_targets():
    loss = elr.ELRLoss(4, 3)
    loss.targets = torch.tensor([[0.9, 0.1, 0.0], [0.1, 0.8, 0.1], [0.0, 0.2, 0.8], [0.7, 0.2, 0.1]])
    labels = torch.tensor([0, 2, 2, 1])  # examples 1 and 3 disagree with their targets
    flagged = loss.flag_mislabeled(labels)
    scores = elr.flag_scores(flagged, torch.tensor([False, True, False, False]))
    assert scores["precision"] == 0.5 and scores["recall"] == 1.0


def test_flag_scores_refuse_masks_that_do_not_match():
    with pytest.raises(ValueError, match="boolean masks of one shape"):
        elr.flag_scores(torch.ones(3, dtype=torch.bool), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean"):
        elr.flag_scores(torch.ones(3), torch.ones(3, dtype=torch.bool))
