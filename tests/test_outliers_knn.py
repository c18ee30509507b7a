import pytest
import torch

from memlib import outliers


def test_knn_agreement_is_the_share_of_nearest_neighbours_with_the_same_label():
    # Two clusters far apart, labelled by cluster, except example 0, labelled as the other cluster.
    generator = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(10, 4, generator=generator), torch.randn(10, 4, generator=generator) + 100])
    labels = torch.tensor([1] + [0] * 9 + [1] * 10)
    agreement = outliers.knn_agreement(x, labels, k=9, chunk=7, device="cpu")
    assert agreement[0] == 0  # its 9 neighbours are the rest of its cluster, labelled 0
    assert torch.allclose(agreement[1:10], torch.tensor(8 / 9))  # 8 of 9 neighbours share label 0
    assert torch.all(agreement[10:] == 1)


def test_knn_agreement_rejects_a_k_as_large_as_the_data():
    with pytest.raises(ValueError, match="k must be"):
        outliers.knn_agreement(torch.rand(5, 2), torch.zeros(5, dtype=torch.long), k=5)
