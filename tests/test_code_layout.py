"""Where the book's code lives (ARCHITECTURE.md, "Rules of the house"): logic in memlib, where it is tested; the
notebooks hold a chapter's calls, figures and prose; no module reaches into another's private names."""
import ast
import json
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_CODE_LINES = 1000


def _code_cells():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                yield path.name, "".join(cell["source"])


def test_the_notebooks_code_stays_within_its_budget():
    total = sum(len(source.splitlines()) for _, source in _code_cells())
    assert total <= NOTEBOOK_CODE_LINES, f"the notebooks hold {total} lines of code; move logic into memlib"


def test_no_function_is_defined_in_two_notebooks_and_none_formats_mean_sd():
    bodies, formatters = defaultdict(set), set()
    for name, source in _code_cells():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.Lambda)):
                body = node.body if isinstance(node.body, list) else [node.body]
                bodies[ast.dump(ast.Module(body=body, type_ignores=[]))].add(name)
            if isinstance(node, ast.FunctionDef) and node.name == "pm":
                formatters.add(name)
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(isinstance(t, ast.Name) and t.id == "pm" for t in targets):
                formatters.add(name)
    shared = [sorted(books) for books in bodies.values() if len(books) > 1]
    assert not shared, f"the same helper is defined in several notebooks (move it into memlib): {shared}"
    assert not formatters, f"notebooks with their own 'mean ± sd' formatter: {sorted(formatters)}"


def test_no_module_imports_another_modules_private_names():
    found = []
    for path in sorted([*(ROOT / "memlib").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]):
        text = path.read_text()
        found += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in
                  re.finditer(r"from memlib(\.\w+)* import \(?[^)\n]*\b_[a-z]\w*|\b(train|ensemble|cache|data|"
                              r"pruning|dropout|outliers|gradients|noise|models|batches)\._[a-z]\w*", text)]
    assert not found, "private names used across modules:\n" + "\n".join(found)
