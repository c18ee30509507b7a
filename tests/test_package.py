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
