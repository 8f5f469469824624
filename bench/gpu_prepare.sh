#!/usr/bin/env bash
# Run here before a device call (`make gpu-prepare`; docs/gpu.md "The device script"): what bench/gpu_session.sh
# needs there and the machine lacks, into two ignored folders that the call carries:
#   .whl/       the wheels of bench/gpu_wheels.txt, for the device's CPython 3.12 on x86-64 (not this machine's);
#   .gpu-data/  the official MNIST test set (the FID/IS reference), found in $MNIST_SOURCE/MNIST/raw
#               (default ../shared/data, as the tests look for it); with WITH_FASHION=1 also Fashion-MNIST
#               (30 MB, which no part of the session trains on) from /usr/share/datasets/fashion-mnist.
# Then it prints what a call would send: the working tree plus both folders, against the 64 MiB limit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SOURCE=${MNIST_SOURCE:-../shared/data}
FASHION=/usr/share/datasets/fashion-mnist

# the device notes' platform tags (pip matches each manylinux_2_N exactly); none newer than glibc 2.28, so that
# debugpy comes as its pure-Python wheel rather than one built for glibc 2.34
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
rm -rf .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${platforms[@]}" \
  -d .whl -r bench/gpu_wheels.txt
wanted=$(grep -c '==' bench/gpu_wheels.txt)
got=$(ls .whl/*.whl | wc -l)
[ "$got" -eq "$wanted" ] || { echo "gpu_prepare: $got wheels in .whl/ for $wanted pins in bench/gpu_wheels.txt"; exit 1; }

rm -rf .gpu-data
mkdir -p .gpu-data/MNIST/raw
ls "$SOURCE"/MNIST/raw/t10k-{images-idx3,labels-idx1}-ubyte* >/dev/null 2>&1 \
  || { echo "gpu_prepare: no MNIST test idx files in $SOURCE/MNIST/raw; set MNIST_SOURCE to the folder above MNIST/"; exit 1; }
cp "$SOURCE"/MNIST/raw/t10k-* .gpu-data/MNIST/raw/
if [ "${WITH_FASHION:-0}" = 1 ]; then
  mkdir -p .gpu-data/fashion-mnist && cp "$FASHION"/*-ubyte.gz .gpu-data/fashion-mnist/
fi

mib() { awk '{ s += $1 } END { printf "%.1f MiB", s / 1048576 }'; }
tree=$(git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null | mib)
wheels=$(find .whl -type f -printf '%s\n' | mib)
data=$(find .gpu-data -type f -printf '%s\n' | mib)
total=$({ git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null; find .whl .gpu-data -type f -printf '%s\n'; } | mib)
echo "gpu_prepare: $got wheels ($wheels) in .whl/, MNIST test set ($data) in .gpu-data/; working tree $tree;"
echo "  a device call with carry [\".whl\", \".gpu-data\"] sends $total of its 64 MiB"
