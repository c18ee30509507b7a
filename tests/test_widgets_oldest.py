"""The slider code against the oldest ipywidgets that pyproject.toml allows (7.7.1, the version Colab ships): the
tests of test_widgets.py again, in a fresh interpreter that imports that version. `make setup` installs it, offline
from then on, into ``<venv>/ipywidgets-oldest``, beside the pinned ipywidgets 8 of the venv itself."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGET = Path(sys.prefix) / "ipywidgets-oldest"


def oldest_declared():
    """The lower bound of memlib's ipywidgets requirement in pyproject.toml."""
    return re.search(r'"ipywidgets>=([0-9.]+)', (ROOT / "pyproject.toml").read_text()).group(1)


def test_slider_code_works_with_the_oldest_declared_ipywidgets():
    version = oldest_declared()
    if not (TARGET / f"ipywidgets-{version}.dist-info").is_dir():
        pytest.fail(f"ipywidgets {version} is not installed in {TARGET}: run `make setup` (it installs it there)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TARGET), str(ROOT)])}
    where = "import ipywidgets; print(ipywidgets.__version__, ipywidgets.__file__)"
    probe = subprocess.run([sys.executable, "-c", where], env=env, capture_output=True, text=True,
                           check=True).stdout.split()
    assert probe[0] == version and Path(probe[1]).is_relative_to(TARGET), probe
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_widgets.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, f"test_widgets.py fails with ipywidgets {version}:\n{run.stdout[-4000:]}"
    assert re.search(r"\b\d+ passed\b", run.stdout) and " failed" not in run.stdout
