"""The Colab path, simulated: a fresh virtual environment that already holds the pinned packages (torch, numpy,
ipywidgets … as Colab's image holds its own), a kernel in it with a ``google.colab`` module imported at start-up
(as Colab's is), and chapter 1 run there from its first cell on, at smoke scale.

Two things differ from Colab, both named here: the setup cell installs memlib from a local git repository holding
this checkout's files instead of the public URL, and pip runs offline (``PIP_NO_INDEX``, no build isolation: the
image's setuptools builds memlib), so memlib's loose bounds must be met by what the image holds; and Colab's
``/content`` folder is a temporary folder. The test checks that pip replaced neither torch nor numpy nor ipywidgets,
that the cell set ``MEMLIB_PROFILE`` and ``MEMLIB_DATA`` as it says, and that the chapter then ran without an
error on data written in torchvision's formats under that ``MEMLIB_DATA``."""
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from test_profiles_smoke import reader_problems
from torchvision_files import write_all

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "notebooks" / "01_memorization_and_label_noise.ipynb"
KEPT = ("torch", "numpy", "ipywidgets")  # what Colab's image holds and pip must not replace
PROBE = """import json, os, sys
print(json.dumps({"profile": os.environ.get("MEMLIB_PROFILE"), "data": os.environ.get("MEMLIB_DATA"),
                  "colab": "google.colab" in sys.modules, "python": sys.executable}))"""
REPORT = """import importlib.metadata, json, sys
import memlib
dists = {name: (importlib.metadata.version(name), str(importlib.metadata.distribution(name).locate_file("")))
         for name in sys.argv[1:]}
print(json.dumps({"dists": dists, "memlib": memlib.__file__}))"""


def _image(folder):
    """Colab's image, stood in for by the pinned environment: a folder of links to every package of this venv
    except memlib (and the .pth files, which only a site folder would run)."""
    folder.mkdir()
    packages = Path(sysconfig.get_paths()["purelib"])
    for entry in packages.iterdir():
        if not entry.name.startswith(("memlib", "__editable__")) and entry.suffix != ".pth":
            (folder / entry.name).symlink_to(entry)
    return folder


def _fresh_venv(home, image):
    """A virtual environment whose own site-packages is empty, with the image on its path (a .pth line) and a
    ``google.colab`` package imported by IPython at start-up."""
    venv = home / "colab"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    own = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip())
    (own / "colab-image.pth").write_text(f"{image}\n")
    (own / "google" / "colab").mkdir(parents=True)
    (own / "google" / "colab" / "__init__.py").write_text('"""A stand-in for Colab\'s module."""\n')
    startup = home / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab\n")
    return python, own


def _clone(home):
    """A git repository holding this checkout's files (tracked and untracked, not ignored), committed on the branch
    the setup cell names, as pip will fetch it."""
    repo = home / "memorization-book"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    return repo


def _commit(repo, branch):
    git = ["git", "-c", "user.name=book", "-c", "user.email=book@localhost", "-C", str(repo)]
    subprocess.run([*git, "init", "-q", "-b", branch], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], check=True)


def test_colab_setup_cell_installs_memlib_beside_the_image_and_the_chapter_runs(tmp_path, monkeypatch):
    image = _image(tmp_path / "image")
    python, own = _fresh_venv(tmp_path, image)
    content = tmp_path / "content"
    content.mkdir()

    notebook = nbformat.read(CHAPTER, as_version=4)
    setup = next(cell for cell in notebook.cells if cell.get("id") == "colab-setup")
    url, branch = re.search(r"git\+(\S+?)@([\w.-]+)\"", setup.source).groups()
    repo = _clone(tmp_path)
    _commit(repo, branch)
    setup.source = (setup.source.replace(f"git+{url}@", f"git+file://localhost{repo}@")
                    .replace('"/content/', f'"{content}/'))
    stated = dict(re.findall(r'os\.environ\.setdefault\("(MEMLIB_\w+)", "([^"]+)"\)', setup.source))
    assert set(stated) == {"MEMLIB_PROFILE", "MEMLIB_DATA"} and stated["MEMLIB_PROFILE"] == "standard"
    write_all(Path(stated["MEMLIB_DATA"]))
    probe = nbformat.v4.new_code_cell(PROBE)
    notebook.cells.insert(notebook.cells.index(setup) + 1, probe)

    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "Colab",
        "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEMLIB_", "PIP_")) and k not in
           ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    env.update(PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", IPYTHONDIR=str(tmp_path / "ipython"),
               MEMLIB_SMOKE="1", MEMLIB_CACHE=str(tmp_path / "cache"), PIP_CONFIG_FILE=os.devnull,
               PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1")
    client = NotebookClient(notebook, timeout=600, kernel_name="colab", resources={"metadata": {"path": str(content)}})
    try:
        client.execute(env=env)
    except Exception as failure:
        problems = reader_problems(notebook) or [f"{type(failure).__name__}: {failure}"]
    else:
        problems = reader_problems(notebook)
    assert not problems, "\n".join(problems)

    seen = json.loads(next(o for o in probe.outputs if o.get("name") == "stdout").text)
    assert seen == {"profile": stated["MEMLIB_PROFILE"], "data": stated["MEMLIB_DATA"], "colab": True,
                    "python": str(python)}
    report = json.loads(subprocess.run([str(python), "-c", REPORT, *KEPT], env=env, cwd=content, capture_output=True,
                                       text=True, check=True).stdout)
    for name in KEPT:  # the image's own copy, at the pinned version
        version, location = report["dists"][name]
        assert version == importlib.metadata.version(name) and Path(location) == image, (name, version, location)
    assert Path(report["memlib"]).is_relative_to(own)  # memlib came from the clone, into the fresh venv
    installed = {re.sub(r"-[^-]+\.dist-info$", "", p.name) for p in own.glob("*.dist-info")}
    assert installed == {"memlib"}, f"pip installed more than memlib: {sorted(installed)}"
    source = json.loads(next(own.glob("memlib-*.dist-info")).joinpath("direct_url.json").read_text())
    assert source["url"] == f"file://localhost{repo}" and source["vcs_info"]["requested_revision"] == branch
