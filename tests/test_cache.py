import pytest
import torch

from memlib import cache


def test_computes_once_then_reuses(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"weights": torch.arange(3.0), "score": 0.5, "names": ["a", "b"]}

    config = {"model": "mlp", "seed": 0, "noise": 0.2, "hidden": [256, 256]}
    first = cache.cached(config, compute, root=tmp_path)
    second = cache.cached(dict(reversed(list(config.items()))), compute, root=tmp_path)  # key order is irrelevant
    assert len(calls) == 1 and torch.equal(first["weights"], second["weights"]) and second["score"] == 0.5
    cache.cached({**config, "seed": 1}, compute, root=tmp_path)
    assert len(calls) == 2
    assert not list(tmp_path.glob("*.tmp")) and len(list(tmp_path.glob("*.pt"))) == 2


def test_a_corrupt_entry_is_recomputed(tmp_path):
    config = {"x": 1}
    cache.cached(config, lambda: torch.ones(2), root=tmp_path)
    path = tmp_path / f"{cache.config_key(config)}-{cache.code_version()}.pt"
    path.write_bytes(b"not a torch file")
    assert torch.equal(cache.cached(config, lambda: torch.zeros(2), root=tmp_path), torch.zeros(2))
    assert torch.equal(cache.cached(config, lambda: torch.ones(2), root=tmp_path), torch.zeros(2))


def test_keys_are_stable_and_configs_must_be_plain():
    assert cache.config_key({"a": 1, "b": [1, 2]}) == cache.config_key({"b": [1, 2], "a": 1})
    assert cache.config_key({"a": 1}) != cache.config_key({"a": 2})
    with pytest.raises(ValueError, match="plain values"):
        cache.config_key({"tensor": torch.ones(1)})
    with pytest.raises(ValueError, match="dict"):
        cache.config_key([1, 2])


def test_root_comes_from_memlib_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    cache.cached({"k": "v"}, lambda: 3)
    assert len(list(tmp_path.glob("*.pt"))) == 1


def test_results_of_other_code_are_not_reused(tmp_path, monkeypatch):
    cache.cached({"x": 1}, lambda: 1, root=tmp_path)
    monkeypatch.setattr(cache, "code_version", lambda: "other-code")
    assert cache.cached({"x": 1}, lambda: 2, root=tmp_path) == 2


def test_recipe_keys_by_name_and_every_argument_and_returns_frames(tmp_path, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    calls = []

    @cache.recipe
    def experiment(rate, *, seed=0):
        calls.append((rate, seed))
        return {"frame": pd.DataFrame({"epoch": [1, 2], "acc": [0.5, rate]}), "flag": torch.tensor([True])}

    first = experiment(0.1)
    again = experiment(0.1, seed=0)
    other = experiment(0.1, seed=1)
    assert calls == [(0.1, 0), (0.1, 1)]
    assert isinstance(again["frame"], pd.DataFrame) and again["frame"].acc.tolist() == [0.5, 0.1]
    assert torch.equal(first["flag"], again["flag"]) and other["frame"].equals(first["frame"])
