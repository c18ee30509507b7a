"""A results cache: long runs are keyed by a stable hash of their configuration (ARCHITECTURE.md, "The results
cache"), so re-running a notebook with the same configuration reuses results instead of retraining. Entries also
carry a fingerprint of memlib's source, so a result is never reused by code other than the code that made it, and
smoke-scale results (``MEMLIB_SMOKE=1``) are kept apart from full-scale ones.

A computed result is never lost: a store that fails warns and returns the result. While a computation runs, the
training runs inside it checkpoint into the entry's run folder (:func:`run_file`), so a computation killed midway
resumes where it stopped when it is asked for again; the folder is removed once the result is stored.
"""
import collections
import contextvars
import functools
import hashlib
import importlib
import inspect
import json
import numbers
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from memlib import profiles

STALE_SECONDS = 3600  # a temporary file untouched this long belongs to a write that was killed
_PLAIN = (str, int, float, bool, type(None))
_RUN = contextvars.ContextVar("memlib_cache_run", default=None)
_TAG = "__memlib_cache__"


class CacheStoreWarning(UserWarning):
    """A computed result could not be stored; it is returned all the same."""


def cache_root(root=None) -> Path:
    """Where results live: ``root``, else ``MEMLIB_CACHE``, else ``~/.cache/memlib/results``."""
    return Path(root or os.environ.get("MEMLIB_CACHE") or Path.home() / ".cache" / "memlib" / "results").expanduser()


def canonical(config, where="config"):
    """``config`` made of JSON values only: tuples become lists, numpy numbers Python numbers; anything else (a
    tensor, an object, a non-string dict key) is refused with a ValueError naming where it sits."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has the key {key!r} ({type(key).__name__}); configuration keys must be "
                                 f"strings, so that the key cannot collide with {str(key)!r}")
            out[key] = canonical(value, f"{where}[{key!r}]")
        return out
    if isinstance(config, (list, tuple)):
        return [canonical(value, f"{where}[{i}]") for i, value in enumerate(config)]
    if isinstance(config, (bool, np.bool_)):
        return bool(config)
    if isinstance(config, (numbers.Integral, np.integer)):
        return int(config)
    if isinstance(config, (numbers.Real, np.floating)):
        return float(config)
    if isinstance(config, (str, type(None))):
        return config
    raise ValueError(f"{where} is a {type(config).__name__}; a configuration holds only plain values (dict, list, "
                     f"tuple, str, int, float, bool, None)")


def config_key(config: dict) -> str:
    """A stable hash of a configuration made of plain values (dicts, lists or tuples, strings, numbers, booleans,
    None; see :func:`canonical`)."""
    return hashlib.sha256(_config_text(config).encode()).hexdigest()[:24]


def _config_text(config) -> str:
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict of plain values; got {type(config).__name__}")
    return json.dumps(canonical(config), sort_keys=True, separators=(",", ":"), allow_nan=True)


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

    Results are tensors, numbers, strings, None, containers of them (dict, list, tuple), numpy arrays and numbers,
    pandas DataFrames and Series, and memlib objects with ``to_dict``/``from_dict`` (:class:`memlib.train.History`);
    anything else is refused with a ValueError naming its type and place, before anything is written. Entries are
    written atomically (:func:`atomic_save`) and read with ``torch.load(weights_only=True)``; a corrupt or
    unreadable entry is recomputed. A store that fails (a read-only or full disk, say) warns with a
    :class:`CacheStoreWarning` naming the path and the reason, and the result is returned all the same. While
    ``compute`` runs, :func:`run_file` hands its training runs checkpoint files in the entry's run folder, so a
    killed computation resumes when asked for again; the folder is removed when the result is stored.
    """
    text, key, folder = _entry(config, root)
    path = folder / f"{key}.pt"
    if path.is_file():
        try:
            entry = torch.load(path, weights_only=True)
            if entry["config"] == text:
                return decode(entry["result"])
        except Exception:  # corrupt, truncated or foreign: recompute below
            pass
    runs = folder / "runs" / key
    token = _RUN.set({"folder": runs, "count": 0})
    try:
        result = compute()
    finally:
        _RUN.reset(token)
    entry = {"config": text, "result": encode(result)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale(folder)
        atomic_save(entry, path)
    except Exception as error:
        warnings.warn(f"the result was computed but could not be stored at {path}: {type(error).__name__}: "
                      f"{error}; it is returned, and will be computed again next time", CacheStoreWarning,
                      stacklevel=2)
        return result
    shutil.rmtree(runs, ignore_errors=True)
    return result


def has(config: dict, root=None) -> bool:
    """Whether :func:`cached` holds a result for ``config`` (stored by this code version), without reading it."""
    _, key, folder = _entry(config, root)
    return (folder / f"{key}.pt").is_file()


def _entry(config, root):
    """The canonical text of ``config``, its entry's key and the cache folder."""
    text = _config_text(config)
    key = f"{hashlib.sha256(text.encode()).hexdigest()[:24]}-{code_version()}{'-smoke' if profiles.smoke() else ''}"
    return text, key, cache_root(root)


def run_file(kind) -> Path | None:
    """The next checkpoint file of the :func:`cached` computation in progress (its ``count``-th training run,
    ``runs/<key>/<count>-<kind>.pt`` under the cache root), or None outside one. A computation makes its training
    runs in the same order every time, so each run finds its own checkpoint when the computation is repeated."""
    run = _RUN.get()
    if run is None:
        return None
    run["count"] += 1
    return run["folder"] / f"{run['count']:03d}-{kind}.pt"


def atomic_save(obj, path):
    """``torch.save(obj)`` to ``path`` through a temporary file in the same folder and a rename, so that ``path``
    holds either its old content or the new, never part of it. A Ctrl-C while writing removes the temporary file
    and surfaces as ``KeyboardInterrupt`` (torch's writer would report it as a RuntimeError)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if _interrupted(error) and not isinstance(error, KeyboardInterrupt):
            raise KeyboardInterrupt(f"interrupted while writing {path}") from error
        raise


def remove_stale(folder):
    """Remove the temporary files of writes into ``folder`` that were killed (untouched for STALE_SECONDS)."""
    now = time.time()
    for tmp in Path(folder).glob(".*.tmp"):
        try:
            if now - tmp.stat().st_mtime > STALE_SECONDS:
                tmp.unlink()
        except OSError:
            pass  # removed meanwhile, or not ours to remove


def _interrupted(error) -> bool:
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def encode(result, where="result"):
    """``result`` in the types ``torch.load(weights_only=True)`` reads: numpy arrays and numbers, DataFrames,
    Series and memlib objects with ``to_dict``/``from_dict`` become tagged dicts of tensors and plain values
    (:func:`decode` restores them). Anything else is refused with a ValueError naming its type and place."""
    if isinstance(result, torch.Tensor):
        if type(result) is not torch.Tensor and not isinstance(result, torch.nn.Parameter):
            raise ValueError(f"{where} is a {type(result).__name__} (a tensor subclass); store a plain tensor")
        return result.detach()
    if isinstance(result, _PLAIN):
        return result
    if type(result) in (list, tuple):
        return type(result)(encode(value, f"{where}[{i}]") for i, value in enumerate(result))
    if type(result) in (dict, collections.OrderedDict):
        if _TAG in result:
            raise ValueError(f"{where} uses the reserved key {_TAG!r}")
        for key in result:
            if not isinstance(key, _PLAIN):
                raise ValueError(f"{where} has the key {key!r} of type {type(key).__name__}; result dict keys "
                                 f"must be str, int, float, bool or None")
        return type(result)((key, encode(value, f"{where}[{key!r}]")) for key, value in result.items())
    if isinstance(result, np.ndarray):
        if result.dtype.kind not in "biuf":
            raise ValueError(f"{where} is a numpy array of dtype {result.dtype}; only bool, integer and float arrays "
                             f"can be stored")
        return _tagged("ndarray", torch.from_numpy(np.ascontiguousarray(result).copy()))
    if isinstance(result, np.generic):
        if result.dtype.kind not in "biuf":
            raise ValueError(f"{where} is a numpy {type(result).__name__}; only numeric numpy numbers can be stored")
        return _tagged("numpy", [result.dtype.str, result.item()])
    frame = _encode_pandas(result, where)
    if frame is not None:
        return frame
    kind = type(result)
    if kind.__module__.startswith("memlib.") and hasattr(result, "to_dict") and hasattr(kind, "from_dict"):
        return _tagged("object", [f"{kind.__module__}:{kind.__qualname__}",
                                  encode(result.to_dict(), f"{where}.to_dict()")])
    raise ValueError(f"{where} is a {kind.__module__}.{kind.__qualname__}, which the cache cannot store safely; "
                     f"store tensors, numbers, strings, None, lists, tuples, dicts, numpy arrays, DataFrames or a "
                     f"memlib History instead")


def decode(stored):
    """The result :func:`encode` encoded."""
    if isinstance(stored, dict):
        if _TAG in stored:
            return _untag(stored[_TAG], stored["value"])
        return type(stored)((key, decode(value)) for key, value in stored.items())
    if isinstance(stored, list):
        return [decode(value) for value in stored]
    if isinstance(stored, tuple):
        return tuple(decode(value) for value in stored)
    return stored


def _tagged(kind, value):
    return {_TAG: kind, "value": value}


def _untag(kind, value):
    if kind == "ndarray":
        return value.numpy()
    if kind == "numpy":
        return np.dtype(value[0]).type(value[1])
    if kind in ("DataFrame", "Series"):
        return _decode_pandas(kind, value)
    if kind == "object":
        name, state = value
        module, qualname = name.split(":")
        if not module.startswith("memlib."):
            raise ValueError(f"the entry names the class {name}, outside memlib")
        return getattr(importlib.import_module(module), qualname).from_dict(decode(state))
    raise ValueError(f"unknown tag {kind!r} in a cache entry")


def _encode_pandas(result, where):
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        if not result.columns.is_unique:
            raise ValueError(f"{where} is a DataFrame with repeated column names; make them unique")
        columns = [encode(name, f"{where} column name") for name in result.columns]
        return _tagged("DataFrame", {"columns": columns, "index": _encode_index(result.index, where),
                                     "values": [_encode_column(result.iloc[:, i], f"{where}[{name!r}]")
                                                for i, name in enumerate(result.columns)]})
    if isinstance(result, pd.Series):
        return _tagged("Series", {"name": encode(result.name, f"{where}.name"),
                                  "index": _encode_index(result.index, where),
                                  "values": _encode_column(result, where)})
    return None


def _encode_column(values, where):
    import pandas as pd

    values = pd.Series(values)
    if values.dtype.kind in "biuf" and isinstance(values.dtype, np.dtype):
        return [values.dtype.str, torch.from_numpy(values.to_numpy().copy())]
    return [str(values.dtype), [_plain(v, where) for v in values.tolist()]]


def _plain(value, where):
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    raise ValueError(f"{where} holds a {type(value).__name__}; table cells must be numbers, strings, booleans or "
                     f"None")


def _encode_index(index, where):
    import pandas as pd

    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None:
        return None
    return {"names": [encode(name, f"{where} index name") for name in index.names],
            "levels": [_encode_column(index.get_level_values(i), f"{where} index") for i in range(index.nlevels)]}


def _decode_column(stored):
    import pandas as pd

    dtype, values = stored
    if isinstance(values, torch.Tensor):
        return values.numpy()
    return pd.array(values, dtype=dtype) if dtype != "object" else np.array(values + [None], dtype=object)[:-1]


def _decode_index(stored, length):
    import pandas as pd

    if stored is None:
        return pd.RangeIndex(length)
    levels = [_decode_column(level) for level in stored["levels"]]
    if len(levels) == 1:
        return pd.Index(levels[0], name=stored["names"][0])
    return pd.MultiIndex.from_arrays(levels, names=stored["names"])


def _decode_pandas(kind, value):
    import pandas as pd

    if kind == "Series":
        values = _decode_column(value["values"])
        return pd.Series(values, index=_decode_index(value["index"], len(values)), name=value["name"])
    columns = [_decode_column(column) for column in value["values"]]
    length = len(columns[0]) if columns else (0 if value["index"] is None else len(value["index"]["levels"][0][1]))
    frame = pd.DataFrame(dict(enumerate(columns)), index=_decode_index(value["index"], length))
    frame.columns = pd.Index(list(value["columns"]))
    return frame


def recipe(function):
    """``function`` with its result cached under a key built from its qualified name and every argument, defaults
    included: the one way an experiment's cache key is made (ARCHITECTURE.md, "The results cache"). The arguments
    must be plain values (names, numbers, dicts of settings), never datasets or models; the result may hold
    anything :func:`cached` stores, DataFrames included. ``function.is_cached(*args, **kwargs)`` says whether a
    call's result is stored (a slider's ``ready``, :func:`memlib.widgets.figure_slider`)."""
    signature = inspect.signature(function)

    def key(args, kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return {"recipe": f"{function.__module__}.{function.__qualname__}", **bound.arguments}

    @functools.wraps(function)
    def cached_function(*args, **kwargs):
        return cached(key(args, kwargs), lambda: function(*args, **kwargs))

    cached_function.is_cached = lambda *args, **kwargs: has(key(args, kwargs))
    return cached_function
