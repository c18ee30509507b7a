"""Every chapter in the standard and paper profiles at smoke scale (MEMLIB_SMOKE=1): the profiles' exact code
paths (their datasets' loaders and formats, their architectures, the chapter code, its figures and tables) on
small files in torchvision's on-disk formats, offline. The quick profile runs at full scale under nbmake."""
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from torchvision_files import write_all

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
NAN = re.compile(r"\bnan\b", re.IGNORECASE)


@pytest.fixture(scope="session")
def torchvision_root(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("data"))


def reader_problems(notebook):
    """What a reader should never see in an executed notebook: errors, stderr, NaN in a shown table or text."""
    problems = []
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {number}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {number} wrote to stderr: {output.text[:300]}")
            else:
                for kind in ("text/markdown", "text/html", "text/plain"):
                    text = output.get("data", {}).get(kind, "") if "data" in output else output.get("text", "")
                    if NAN.search(text or ""):
                        problems.append(f"cell {number} shows NaN ({kind}): {NAN.search(text).group()}")
                        break
    return problems


@pytest.mark.parametrize("profile", ["standard", "paper"])
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_at_smoke_scale(chapter, profile, torchvision_root, tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_PROFILE", profile)
    monkeypatch.setenv("MEMLIB_SMOKE", "1")
    monkeypatch.setenv("MEMLIB_DATA", str(torchvision_root))
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MEMLIB_PROGRESS", "0")
    notebook = nbformat.read(NOTEBOOKS / chapter, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        client.execute()
    except Exception as failure:  # the cell's error is in the outputs; report it with the others
        problems = reader_problems(notebook) or [f"{type(failure).__name__}: {failure}"]
    else:
        problems = reader_problems(notebook)
    assert not problems, "\n".join(problems)
