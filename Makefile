# genmodels: `make report` is the main job, `make test` the test suite; both set themselves up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= default
APT_PACKAGES := dataset-fashion-mnist texlive-xetex texlive-fonts-recommended texlive-plain-generic pandoc poppler-utils \
	chromium chromium-driver
KERNEL := genmodels

.PHONY: setup system-packages test report sweep lab clean-results bench gpu-check gpu-prepare lock

setup: system-packages $(VENV)/.installed

# Debian packages: the Fashion-MNIST data set, TeX + pandoc for nbconvert's PDF, and Chromium + chromedriver
# for the browser tests (tests/notebooks/test_browser.py). Skipped (with a note) where apt is unavailable; see README
# "Without apt".
system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "system packages: all present"; \
	elif ! command -v apt-get >/dev/null; then \
	  echo "NOTE: apt-get not found; install the equivalents of: $$missing (see README 'Without apt')."; \
	else \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing Debian packages: $$missing"; \
	  $$SUDO apt-get install -y -q $$missing >/dev/null || { \
	    echo "NOTE: apt-get install failed; the PDF, Fashion-MNIST and the browser tests need: $$missing (see README)."; }; \
	fi

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the exact versions the measurements in docs/ were made with (torch is left to the machine's build)
	$(PY) -m pip install -q -e '.[test,tensorboard]' -c constraints.txt
	# an explicit kernel inside the venv, so papermill and JupyterLab run notebooks in this environment
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "genmodels (.venv)" >/dev/null
	touch $@

# the suite on every core (pytest-xdist); tests sharing an expensive fixture stay on one worker (docs/testing.md)
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

test: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

sweep: setup
	$(PY) -m genmodels sweep configs/$(PROFILE).yaml

# a failed run does not stop the report: it shows the failure (the sweep's exit status is printed)
report: setup
	-$(PY) -m genmodels sweep configs/$(PROFILE).yaml
	$(PY) -m genmodels report --sweep configs/$(PROFILE).yaml --results results --out report

# JupyterLab on the notebooks, with the project's kernel. JupyterLab refuses to start as root ("Running as root is
# not recommended. Use --allow-root"), which is what a container usually runs as: the flag is added only for root.
# More options through LAB_ARGS, e.g. make lab LAB_ARGS="--no-browser --port 8899".
lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

bench: setup
	$(PY) bench/throughput.py

# on a machine with CUDA: a small GPU sweep of every model through papermill, then the report, with a table of
# what it measured (docs/gpu.md); skips itself with one line elsewhere
gpu-check: setup
	$(PY) bench/cuda_check.py

# here, before a device call: the wheels the device lacks (for its Python 3.12) in .whl/ and the MNIST test set in
# .gpu-data/, both carried by the call that runs bench/gpu_session.sh (docs/gpu.md "The device script")
gpu-prepare:
	bash bench/gpu_prepare.sh

clean-results:
	rm -rf results report/report.pdf report/report.html

# write constraints.txt anew from the venv (after changing a dependency): every package pinned but torch's own
lock: setup
	{ echo "# exact versions make setup installs (make lock writes this file); torch and its CUDA packages are"; \
	  echo "# left to the machine's build"; \
	  $(PY) -m pip freeze --exclude-editable | grep '==' | grep -v -i -E '^((torch|torchvision|triton)==|nvidia-|cuda-)'; \
	} > constraints.txt
