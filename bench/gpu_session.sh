#!/usr/bin/env bash
# The device call's command (docs/gpu.md "The device script"): install the carried wheels (.whl/, made by
# bench/gpu_prepare.sh) into a folder of their own, point the data variables at the carried MNIST test set
# (.gpu-data/) and a writable data root, and run bench/gpu_session.py with its tables going to $OUT.
# Arguments go on to gpu_session.py, e.g. `--parts full-slice,cuda-graphs` for a second call.
# Here, to check it at toy size: OUT=$(mktemp -d) PYTHON=<a Python without papermill & co., .whl/ holding the
# wheels for its version> GPU_SITE=/tmp/site-test bash bench/gpu_session.sh --device cpu --tiny --work /tmp/gs-work
set -u
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder the tables go to (the device sets it)}"
PY=${PYTHON:-python3}
SITE=${GPU_SITE:-/tmp/site}
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
  || { echo "gpu_session.sh: the wheels in .whl/ did not install (bench/gpu_prepare.sh makes them)"; exit 1; }
# nbconvert's templates were installed under $SITE/share/jupyter, which Jupyter finds only through JUPYTER_PATH;
# the python3 kernelspec installed beside them runs a bare `python`, so it goes, and jupyter_client then starts
# ipykernel's own, which runs this interpreter (as papermill's runs did before the templates were needed)
rm -rf "$SITE/share/jupyter/kernels"
export JUPYTER_PATH="$SITE/share/jupyter"
export PYTHONPATH="$SITE:$PWD/lib" PYTHONUNBUFFERED=1 MPLBACKEND=Agg GENMODELS_OFFLINE=1 \
  GENMODELS_IMPORT="$PWD/.gpu-data" GENMODELS_DATA="${GENMODELS_DATA:-/tmp/genmodels-data}"
exec "$PY" bench/gpu_session.py --out "$OUT" "$@"
