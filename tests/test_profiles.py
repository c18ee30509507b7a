import pytest
import torch

from memlib import profiles


def test_default_follows_cuda(monkeypatch):
    monkeypatch.delenv("MEMLIB_PROFILE", raising=False)
    assert profiles.profile() == ("standard" if torch.cuda.is_available() else "quick")


@pytest.mark.parametrize("name", profiles.PROFILES)
def test_environment_selects_a_profile(monkeypatch, name):
    monkeypatch.setenv("MEMLIB_PROFILE", name.upper())
    assert profiles.profile() == name
    assert profiles.choose(quick=1, standard=2, paper=3) == profiles.PROFILES.index(name) + 1


def test_unknown_profile_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("MEMLIB_PROFILE", "huge")
    with pytest.raises(ValueError, match="quick, standard, paper"):
        profiles.profile()


def test_choose_rejects_unknown_or_missing_profiles(monkeypatch):
    monkeypatch.setenv("MEMLIB_PROFILE", "quick")
    with pytest.raises(ValueError, match="unknown profile"):
        profiles.choose(quick=1, fast=2)
    with pytest.raises(ValueError, match="active profile 'quick'"):
        profiles.choose(standard=1)
