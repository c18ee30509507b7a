"""Keep every chapter Colab-ready: an "Open in Colab" badge under its title and a first code cell that installs
memlib from the book's repository when, and only when, it runs on Colab.

The repository URL is read from _config.yml (repository.url), its one home. After changing it (a fork), run
`make colab` to rewrite the cells; a test checks that every notebook matches.
"""
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BADGE_MARK = "[![Open in Colab]"
SETUP_MARK = "# Colab setup"
# The badge's image, served from the book's own files (a relative path from notebooks/), so it shows offline too.
BADGE_IMAGE = "../book/images/open-in-colab.svg"


def repository(root=ROOT):
    """(url, branch) of the book's repository, from _config.yml."""
    config = yaml.safe_load((root / "_config.yml").read_text())["repository"]
    return config["url"].rstrip("/"), config.get("branch", "main")


def badge(notebook: Path, root=ROOT) -> str:
    url, branch = repository(root)
    github = url.removeprefix("https://github.com/")
    target = f"https://colab.research.google.com/github/{github}/blob/{branch}/notebooks/{notebook.name}"
    return f"{BADGE_MARK}({BADGE_IMAGE})]({target})"


def setup_cell(root=ROOT) -> str:
    url, branch = repository(root)
    return f'''{SETUP_MARK}: install memlib from the book's repository, keeping Colab's own torch; a no-op elsewhere.
import os, subprocess, sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "memlib @ git+{url}@{branch}"], check=True)
    os.environ.setdefault("MEMLIB_PROFILE", "standard")
    os.environ.setdefault("MEMLIB_DATA", "/content/data")
    import torch
    torch.cuda.is_available() or print("No GPU runtime: choose Runtime > Change runtime type > GPU, or set "
                                       "os.environ['MEMLIB_PROFILE'] = 'quick' for the small version.")'''


def expected_cells(notebook: Path, root=ROOT):
    """The notebook's cells with the badge and the setup cell in place (the notebook itself is not changed)."""
    cells = json.loads(notebook.read_text())["cells"]
    title = cells[0]
    if title["cell_type"] != "markdown":
        raise ValueError(f"{notebook.name}: the first cell must be the chapter's markdown title")
    lines = [line for line in "".join(title["source"]).split("\n") if not line.startswith(BADGE_MARK)]
    lines.insert(1, "")
    lines.insert(1, badge(notebook, root))
    title["source"] = "\n".join(_squeeze(lines))
    code = [c for c in cells if c["cell_type"] == "code"]
    setup = {"cell_type": "code", "execution_count": None, "id": "colab-setup", "metadata": {"tags": ["hide-input"]},
             "outputs": [], "source": setup_cell(root)}
    if code and "".join(code[0]["source"]).startswith(SETUP_MARK):
        cells[cells.index(code[0])] = setup
    else:
        cells.insert(cells.index(code[0]) if code else len(cells), setup)
    return cells


def _squeeze(lines):
    """Drop blank lines that repeat."""
    return [line for i, line in enumerate(lines) if line.strip() or i == 0 or lines[i - 1].strip()]


def sync(root=ROOT):
    """Rewrite every notebook's badge and setup cell from _config.yml; returns the notebooks that changed."""
    changed = []
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        content = json.loads(notebook.read_text())
        cells = expected_cells(notebook, root)
        if cells != content["cells"]:
            content["cells"] = cells
            notebook.write_text(json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
            changed.append(notebook.name)
    return changed


if __name__ == "__main__":
    names = sync()
    print("updated: " + ", ".join(names) if names else "all notebooks are up to date", file=sys.stderr)
