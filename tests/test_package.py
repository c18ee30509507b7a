"""Package-level promises: a light import, and notebooks committed clean and listed in the book."""
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_import_memlib_loads_no_heavy_library():
    code = "import sys, memlib; print(sorted(m for m in ('torch', 'matplotlib', 'pandas', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_submodules_load_on_first_use():
    import memlib

    assert memlib.noise.symmetric is not None
    try:
        memlib.nonexistent
    except AttributeError as error:
        assert "nonexistent" in str(error)
    else:
        raise AssertionError("an unknown attribute must raise AttributeError")


def _notebooks():
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    for path in _notebooks():
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name} has outputs"


def test_every_notebook_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {chapter["file"] for part in toc["parts"] for chapter in part["chapters"]}
    assert _notebooks()
    for path in _notebooks():
        assert f"notebooks/{path.stem}" in files, f"{path.name} is missing from _toc.yml"


def _colab_cells():
    import importlib.util

    spec = importlib.util.spec_from_file_location("colab_cells", ROOT / "book" / "colab_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_has_the_colab_badge_and_setup_cell_from_config():
    colab = _colab_cells()
    for path in _notebooks():
        cells = json.loads(path.read_text())["cells"]
        assert cells == colab.expected_cells(path), f"{path.name} is out of date: run `make colab`"
        assert colab.badge(path) in "".join(cells[0]["source"])


def test_setup_cell_is_a_no_op_outside_colab_and_installs_without_pins_on_colab(monkeypatch):
    import subprocess
    import types

    source = _colab_cells().setup_cell()
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls.append(command))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(source, {})
    assert calls == []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("MEMLIB_PROFILE", raising=False)
    monkeypatch.delenv("MEMLIB_DATA", raising=False)
    exec(source, {})
    (command,) = calls
    assert command[-1].startswith("memlib @ git+https://github.com/") and not any("torch" in part for part in command)
    import os

    assert os.environ["MEMLIB_PROFILE"] == "standard" and os.environ["MEMLIB_DATA"] == "/content/data"
