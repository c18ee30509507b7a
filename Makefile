# Two commands: `make book` builds the static HTML book, `make test` runs every test. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= quick
# memlib is imported from this checkout; progress bars stay off and sliders are kernel-free in builds and tests.
export PYTHONPATH := $(CURDIR)
export MEMLIB_PROGRESS ?= 0
export MEMLIB_WIDGETS ?= static
# The quick profile's networks are tiny: one CPU thread each is as fast, and does not thrash when jobs share cores.
export OMP_NUM_THREADS ?= 1
# Jupyter-cache hashes only code cells: keep one execution cache per profile and memlib version.
MEMLIB_HASH = $(shell cat memlib/*.py memlib/*/*.py | sha1sum | cut -c1-12)
CACHE := _build/cache/$(PROFILE)-$(MEMLIB_HASH)

# The oldest ipywidgets pyproject.toml allows (Colab's), kept beside the venv for tests/test_widgets_oldest.py.
IPYWIDGETS_OLDEST = $(shell sed -n 's/.*"ipywidgets>=\([0-9.]*\).*/\1/p' pyproject.toml)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup browser book test test-gpu colab clean

$(BIN)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -rf $(VENV)/ipywidgets-oldest
	$(BIN)/python -m pip install --quiet --no-deps --target $(VENV)/ipywidgets-oldest \
	  ipywidgets==$(IPYWIDGETS_OLDEST) ipython_genutils==0.2.0
	touch $@

setup: $(BIN)/.installed

# Debian's Chromium and ChromeDriver, for the test that opens the built book in a real browser.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; }

book: setup
	mkdir -p $(CACHE)
	ln -sfn cache/$(notdir $(CACHE)) _build/.jupyter_cache
	MEMLIB_PROFILE=$(PROFILE) $(BIN)/jupyter-book build --warningiserror --keep-going .
	@echo "The book: $(CURDIR)/_build/html/index.html"

test: setup browser
	MEMLIB_PROFILE=$(PROFILE) $(BIN)/python -m pytest --nbmake --nbmake-timeout=600 --durations=20 tests notebooks

# On a GPU machine: the CUDA tests and every chapter in the standard profile (datasets download to MEMLIB_DATA).
test-gpu: setup
	MEMLIB_GPU_TESTS=1 MEMLIB_PROFILE=standard $(BIN)/python -m pytest --nbmake --nbmake-timeout=1200 --durations=0 tests/gpu notebooks

# After changing repository.url in _config.yml (a fork): rewrite every chapter's Colab badge and setup cell.
colab: setup
	$(BIN)/python book/colab_cells.py

clean:
	rm -rf _build .pytest_cache
