#!/usr/bin/env bash
# Fill the git-ignored third_party/ with what scripts/gpu_check.sh needs on a GPU machine without network:
#   third_party/gpuRIR/   gpuRIR's source (it is not on PyPI: give a checkout or an archive of
#                         https://github.com/DavidDiazGuerra/gpuRIR that you obtained; nothing is downloaded for it)
#   third_party/wheels/   wheels of the Python packages such a machine lacks, from PyPI (pip download), for its
#                         Python (default 3.12, x86-64 manylinux), and this package's own wheel (pip wheel . --no-deps)
#
#   bash scripts/fetch_gpu_deps.sh --gpurir ~/src/gpuRIR            # a checkout (its .git is left out)
#   bash scripts/fetch_gpu_deps.sh --gpurir gpuRIR-master.tar.gz    # or a .tar.gz / .zip of one
#   bash scripts/fetch_gpu_deps.sh --gpurir PATH --python-version 3.11 --packages "pyroomacoustics soundfile"
#
# The packages (--packages) default to those the lent H200/H100 machines lack (they have torch, lightning, h5py,
# numpy, scipy, pyyaml, tqdm, matplotlib): pyroomacoustics, torchrir, soundfile with cffi and pycparser. Each is
# fetched without its dependencies (--no-deps), so the list names them all. The total must stay under the 64 MiB
# that travels to such a machine; the script prints it.
set -euo pipefail

GPURIR=""
PYVER=3.12
PACKAGES="pyroomacoustics==0.10.1 torchrir==3.0.1 soundfile==0.13.1 cffi==2.0.0 pycparser==2.23"
while [ $# -gt 0 ]; do
    case "$1" in
        --gpurir) GPURIR=$2; shift 2 ;;
        --python-version) PYVER=$2; shift 2 ;;
        --packages) PACKAGES=$2; shift 2 ;;
        *) echo "fetch_gpu_deps.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$GPURIR" ]; then
    echo "fetch_gpu_deps.sh: give --gpurir PATH: a checkout or a .tar.gz/.zip of gpuRIR's source (not on PyPI)" >&2
    exit 2
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
DEST=$REPO/third_party
mkdir -p "$DEST"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# gpuRIR: unpack or copy into a temporary folder first, so that a failure leaves the old copy in place.
case "$GPURIR" in
    *.tar.gz|*.tgz) mkdir "$TMP/src" && tar -xzf "$GPURIR" -C "$TMP/src" ;;
    *.zip) mkdir "$TMP/src" && (cd "$TMP/src" && unzip -q "$(cd "$(dirname "$GPURIR")" && pwd)/$(basename "$GPURIR")") ;;
    *) [ -d "$GPURIR" ] || { echo "fetch_gpu_deps.sh: $GPURIR is neither a folder nor a .tar.gz/.zip" >&2; exit 2; }
       mkdir "$TMP/src" && (cd "$GPURIR" && tar --exclude=.git -cf - .) | (mkdir "$TMP/src/gpuRIR" && tar -xf - -C "$TMP/src/gpuRIR") ;;
esac
SETUP=$(find "$TMP/src" -maxdepth 2 -name setup.py | head -n 1)
if [ -z "$SETUP" ] || [ ! -f "$(dirname "$SETUP")/gpuRIR/__init__.py" ] || [ ! -f "$(dirname "$SETUP")/src/gpuRIR_cuda.cu" ]; then
    echo "fetch_gpu_deps.sh: $GPURIR does not hold gpuRIR's source (setup.py, gpuRIR/__init__.py, src/gpuRIR_cuda.cu)" >&2
    exit 1
fi
if [ ! -f "$(dirname "$SETUP")/third_party/pybind11/CMakeLists.txt" ]; then
    echo "fetch_gpu_deps.sh: $GPURIR lacks third_party/pybind11 (a submodule: git clone --recursive)" >&2
    exit 1
fi
rm -rf "$DEST/gpuRIR"
mv "$(dirname "$SETUP")" "$DEST/gpuRIR"

# Wheels, for the GPU machine's Python and platform.
mkdir -p "$TMP/wheels"
PLATFORMS=()
for n in 17 27 28 31 34; do PLATFORMS+=(--platform "manylinux_2_${n}_x86_64"); done
PLATFORMS+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
# shellcheck disable=SC2086  # the packages are words
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
    "${PLATFORMS[@]}" -d "$TMP/wheels" $PACKAGES
python3 -m pip wheel -q --no-deps --no-build-isolation -w "$TMP/wheels" "$REPO"
rm -rf "$DEST/wheels"
mv "$TMP/wheels" "$DEST/wheels"

echo "third_party/gpuRIR: $(du -sh "$DEST/gpuRIR" | cut -f1)"
ls -l "$DEST/wheels" | tail -n +2 | awk '{printf "third_party/wheels/%s: %.1f MiB\n", $9, $5 / 1048576}'
TOTAL=$(du -sm "$DEST/gpuRIR" "$DEST/wheels" | awk '{s += $1} END {print s}')
echo "total: about $TOTAL MiB (at most 64 MiB travel with the repository)"
if [ "$TOTAL" -gt 60 ]; then
    echo "fetch_gpu_deps.sh: warning: third_party/ is over 60 MiB" >&2
fi
