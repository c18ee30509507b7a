"""A results cache: long runs are keyed by a stable hash of their configuration (ARCHITECTURE.md, "The results
cache"), so re-running a notebook with the same configuration reuses results instead of retraining. Entries also
carry a fingerprint of memlib's source, so a result is never reused by code other than the code that made it, and
smoke-scale results (``MEMLIB_SMOKE=1``) are kept apart from full-scale ones."""
import functools
import hashlib
import inspect
import json
import os
import tempfile
from pathlib import Path

import torch

from memlib import profiles


def cache_root(root=None) -> Path:
    """Where results live: ``root``, else ``MEMLIB_CACHE``, else ``~/.cache/memlib/results``."""
    return Path(root or os.environ.get("MEMLIB_CACHE") or Path.home() / ".cache" / "memlib" / "results").expanduser()


def config_key(config: dict) -> str:
    """A stable hash of a configuration made of plain values (dicts, lists, strings, numbers, booleans, None)."""
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict of plain values; got {type(config).__name__}")
    try:
        text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=True)
    except TypeError as error:
        raise ValueError(f"config must hold only plain values (dict, list, str, int, float, bool, None): {error}")
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of memlib's own source files."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def cached(config: dict, compute, root=None):
    """The stored result of ``compute()`` for ``config``, computing and storing it on a miss.

    Results are tensors, numbers, strings and containers of them (what ``torch.load(weights_only=True)`` reads).
    Entries are written atomically (temporary file, then rename); a corrupt or unreadable entry is recomputed.
    """
    key = f"{config_key(config)}-{code_version()}{'-smoke' if profiles.smoke() else ''}"
    path = cache_root(root) / f"{key}.pt"
    if path.exists():
        try:
            entry = torch.load(path, weights_only=True)
            if entry["config"] == json.loads(json.dumps(config)):
                return entry["result"]
        except Exception:  # corrupt, truncated or foreign: recompute below
            pass
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"config": config, "result": result}, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return result


def recipe(function):
    """``function`` with its result cached under a key built from its qualified name and every argument, defaults
    included: the one way an experiment's cache key is made (ARCHITECTURE.md, "The results cache"). The arguments
    must be plain values (names, numbers, dicts of settings), never datasets or models. The result may hold
    pandas DataFrames beside tensors and plain values; they come back as DataFrames."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def cached_function(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        key = {"recipe": f"{function.__module__}.{function.__qualname__}", **bound.arguments}
        return _from_storable(cached(key, lambda: _to_storable(function(*args, **kwargs))))

    return cached_function


def _to_storable(value):
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return {"__frame__": {str(column): value[column].tolist() for column in value.columns}}
    if isinstance(value, dict):
        return {key: _to_storable(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_storable(v) for v in value)
    return value


def _from_storable(value):
    import pandas as pd

    if isinstance(value, dict):
        if set(value) == {"__frame__"}:
            return pd.DataFrame(value["__frame__"])
        return {key: _from_storable(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_from_storable(v) for v in value)
    return value
