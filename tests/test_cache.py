import os
import time

import numpy as np
import pandas as pd
import pytest
import torch

from memlib import cache, train


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


def _entry(tmp_path, config):
    return tmp_path / f"{cache.config_key(config)}-{cache.code_version()}.pt"


def test_configs_are_canonical_or_refused_with_the_key(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    first = cache.cached({"sizes": (256, 128), "seed": np.int64(3), "rate": np.float64(0.5), "none": float("nan")},
                         compute, root=tmp_path)
    again = cache.cached({"sizes": [256, 128], "seed": 3, "rate": 0.5, "none": float("nan")}, compute, root=tmp_path)
    assert first == again == 1 and len(calls) == 1  # tuples and lists, numpy and Python numbers, NaN: one entry
    assert cache.config_key({"flag": np.bool_(True)}) == cache.config_key({"flag": True})
    with pytest.raises(ValueError, match=r"config\['fit'\] has the key 1 \(int\)"):
        cache.config_key({"fit": {1: "a"}})
    with pytest.raises(ValueError, match=r"config\['f'\] is a builtin_function"):
        cache.config_key({"f": print})


def test_results_of_every_supported_kind_are_reused(tmp_path):
    frame = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.5, 0.25, float("nan")], "group": ["a", "b", "c"],
                          "hit": [True, False, True]}, index=pd.Index([10, 20, 30], name="step"))
    history = train.History(torch.tensor([0, 1]), torch.zeros(2, 2, dtype=torch.long), torch.ones(2, 2),
                            torch.ones(2), torch.full((2,), float("nan")), 1.5, {"note": "x"})
    result = {"frame": frame, "series": frame["loss"], "array": np.arange(4.0), "count": np.int64(7),
              "ratio": np.float32(0.1), "history": history, "pair": (1, "two"), "masks": [{0: torch.ones(2)}]}
    calls = []

    def compute():
        calls.append(1)
        return result

    cache.cached({"kinds": "all"}, compute, root=tmp_path)
    back = cache.cached({"kinds": "all"}, compute, root=tmp_path)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(back["frame"], frame)
    pd.testing.assert_series_equal(back["series"], frame["loss"])
    assert back["array"].dtype == np.float64 and np.array_equal(back["array"], result["array"])
    assert type(back["count"]) is np.int64 and back["count"] == 7 and type(back["ratio"]) is np.float32
    assert isinstance(back["history"], train.History) and back["history"].train_time == 1.5
    assert torch.equal(back["history"].losses, history.losses) and back["history"].extras == {"note": "x"}
    assert back["pair"] == (1, "two") and torch.equal(back["masks"][0][0], torch.ones(2))


def test_a_result_that_cannot_be_stored_safely_is_refused_by_type(tmp_path):
    class Opaque:
        pass

    with pytest.raises(ValueError, match=r"result\['model'\] is a .*Opaque"):
        cache.cached({"x": 1}, lambda: {"model": Opaque()}, root=tmp_path)
    with pytest.raises(ValueError, match="numpy array of dtype object"):
        cache.cached({"x": 2}, lambda: np.array([object()]), root=tmp_path)
    assert not list(tmp_path.glob("*.pt"))


def test_a_failed_store_warns_and_returns_the_result(tmp_path, monkeypatch):
    root_file = tmp_path / "a-file"
    root_file.write_text("")
    with pytest.warns(cache.CacheStoreWarning, match=r"could not be stored at .*a-file"):
        assert cache.cached({"x": 1}, lambda: 41, root=root_file) == 41

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.warns(cache.CacheStoreWarning, match="No space left on device"):
        assert torch.equal(cache.cached({"x": 2}, lambda: torch.ones(3), root=tmp_path), torch.ones(3))
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob("*.pt"))


def test_an_interrupted_store_keeps_the_old_entry_and_raises_keyboard_interrupt(tmp_path, monkeypatch):
    config = {"x": 1}
    cache.cached(config, lambda: torch.zeros(3), root=tmp_path)
    _entry(tmp_path, config).unlink()
    cache.cached(config, lambda: torch.zeros(3), root=tmp_path)
    fdopen = os.fdopen

    class Interrupted:
        """A file whose second write is interrupted (Ctrl-C arrives while torch's writer is writing)."""

        def __init__(self, f):
            self.f, self.writes = f, 0

        def write(self, data):
            self.writes += 1
            if self.writes == 2:
                raise KeyboardInterrupt
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Interrupted(fdopen(fd, mode)))
    monkeypatch.setattr(cache, "code_version", lambda: "v2")  # a new entry beside the old one
    with pytest.raises(KeyboardInterrupt):
        cache.cached(config, lambda: {"big": torch.ones(1000, 1000)}, root=tmp_path)
    monkeypatch.undo()
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob("*-v2.pt"))
    assert torch.equal(cache.cached(config, lambda: torch.ones(3), root=tmp_path), torch.zeros(3))


def test_stale_temporary_files_are_removed(tmp_path):
    stale, fresh = tmp_path / ".abc.1234.tmp", tmp_path / ".abc.5678.tmp"
    stale.write_bytes(b"half a write")
    fresh.write_bytes(b"a write in progress")
    old = time.time() - cache.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    cache.cached({"x": 1}, lambda: 1, root=tmp_path)
    assert not stale.exists() and fresh.exists()
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


def test_a_recipe_says_whether_a_call_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))

    @cache.recipe
    def square(x, *, power=2):
        return x ** power

    assert not square.is_cached(3)
    assert square(3) == 9 and square.is_cached(3) and square.is_cached(3, power=2)
    assert not square.is_cached(3, power=3) and not square.is_cached(4)
