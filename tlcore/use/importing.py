"""Bring an export made by ``tlcore export`` (a folder or a .zip) back into a runs folder as a run.

An archive from elsewhere is untrusted input, so it is checked before anything is used:

- every zip member stays inside the folder it is unpacked into (no absolute path, no ``..``, no drive
  letter: path traversal is refused), and is a plain file or folder (no symlink, no device);
- only known data file types are accepted (JSON, safetensors, tokenizer and text files); pickle-based
  weights (.bin, .pt, .pkl, ...) and code are refused, and each safetensors file's header is checked;
- caps on the number of files, the total unpacked size and the compression ratio (zip bombs); bytes
  are counted while unpacking, because a zip header can lie about them.

Then the export's run record (``transferlab/``, written by ``tlcore export``) is checked against its
files, the model and method must exist here, and a new run folder is written with status succeeded
and ``imported_from`` in its config.json. It is built in a hidden folder and renamed into place, so
it appears whole or not at all; the Runs, Compare and Use pages list it like any run.

Light at import time (no torch).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import struct
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

from ..errors import ExportError, RunError, TLCoreError, quoted
from ..runs.store import Run, RunStore, new_run_id, write_json_atomic
from .export import RECORD_DIR, RECORD_FILES, export_kind

# Caps for an untrusted archive. A full fine-tuned SmolLM2-135M in float32 is about 0.55 GB.
MAX_FILES = 500
MAX_TOTAL_BYTES = 3 * 1024 ** 3
MAX_RATIO = 200  # unpacked / packed size of one member (weights and JSON compress far less)
RATIO_CHECK_BYTES = 1024 ** 2  # below this a member's ratio does not matter
MAX_SAFETENSORS_HEADER = 100 * 1024 ** 2

ALLOWED_SUFFIXES = (".json", ".jsonl", ".safetensors", ".md", ".txt", ".csv", ".model", ".jinja")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz", ".h5")
# Litter that zip tools on macOS and Windows add; skipped, never unpacked.
_IGNORED_PARTS = ("__MACOSX", ".DS_Store", "Thumbs.db")


def import_export(path: str | Path, store: RunStore | None = None, source_name: str | None = None) -> Run:
    """Import the export at ``path`` (a folder or a .zip written by ``tlcore export``) into ``store``.

    Returns the new run (status succeeded, ``imported_from`` recorded in its config.json). Raises
    ExportError saying what is wrong (not an export, unsafe or damaged archive) and ModelError /
    MethodError / ConfigError when the run cannot work here. ``source_name`` is what the run records
    as its source (for an upload: the file's name rather than a temporary path).
    """
    store = store or RunStore()
    path = Path(path).expanduser()
    name = source_name or path.name
    try:
        exists = path.exists()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise ExportError(f"{quoted(path, 120)} cannot be opened ({exc.strerror or exc}); give the folder or .zip "
                          "file that `tlcore export` wrote.") from None
    if not exists:
        raise ExportError(f"{quoted(path, 120)} does not exist; give the folder or .zip file that `tlcore export` "
                          "wrote.")
    if not path.is_dir() and not path.is_file():  # a device (zipfile would read /dev/zero forever), pipe or socket
        raise ExportError(f"{quoted(path, 120)} is not a regular file or folder (a device, pipe or socket); give the "
                          "folder or .zip file that `tlcore export` wrote.")
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".import-", suffix=".creating", dir=store.root))
    except OSError as exc:
        raise RunError(f"cannot write to the runs folder {str(store.root)!r} ({exc.strerror or exc}); choose "
                       "another one with --runs-dir or TLCORE_RUNS_DIR.") from exc
    try:
        unpacked = work / "export"
        if path.is_dir():
            _copy_folder(path, unpacked, name)
        elif zipfile.is_zipfile(path):
            _unzip(path, unpacked, name)
        else:
            raise ExportError(f"{name} is neither a folder nor a .zip file; give the folder or .zip file that "
                              "`tlcore export` wrote.")
        root = _export_root(unpacked)
        config = _check_export(root, name)
        run_id = new_run_id(str(config["method"]), str(config["model"]))
        built = work / run_id
        _build_run(root, built, config, run_id, source=str(path) if source_name is None else source_name)
        os.replace(built, store.root / run_id)  # the run appears whole or not at all
    except OSError as exc:  # a full disk, an unreadable file in the export folder
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        raise ExportError(f"{name} could not be imported: {exc.strerror or exc}{where}. Nothing was added; check the "
                          "file permissions and the free disk space, then import again.") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Run(store.root / run_id)


# -- unpacking safely -----------------------------------------------------------------------------

def _ignored(relative: str) -> bool:
    return any(part in _IGNORED_PARTS or part.startswith("._") for part in relative.split("/"))


def _check_file_type(relative: str, name: str) -> None:
    suffix = Path(relative).suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise ExportError(f"{name} contains {relative!r}, a pickle-based file that can run code when loaded; only "
                          "safetensors weights are imported. Export the run again with `tlcore export`.")
    if suffix not in ALLOWED_SUFFIXES:
        raise ExportError(f"{name} contains {relative!r}, a file type that TransferLab exports never hold (allowed: "
                          f"{', '.join(ALLOWED_SUFFIXES)}); refusing to import it.")


def _check_member_name(relative: str, name: str) -> None:
    parts = relative.split("/")
    if (relative.startswith(("/", "\\")) or "\\" in relative or "\x00" in relative
            or re.match(r"^[A-Za-z]:", relative) or ".." in parts):
        raise ExportError(f"{name} has a member {relative!r} that would be written outside the import folder (path "
                          "traversal); refusing the archive.")


def _check_caps(count: int, total: int, name: str) -> None:
    if count > MAX_FILES:
        raise ExportError(f"{name} holds more than {MAX_FILES} files; a TransferLab export has about ten. Refusing it.")
    if total > MAX_TOTAL_BYTES:
        size = (f"{MAX_TOTAL_BYTES / 1024 ** 3:.1f} GiB" if MAX_TOTAL_BYTES >= 1024 ** 3
                else f"{MAX_TOTAL_BYTES / 1024 ** 2:.1f} MiB" if MAX_TOTAL_BYTES >= 1024 ** 2
                else f"{MAX_TOTAL_BYTES:,} bytes")
        raise ExportError(f"{name} is larger than {size} unpacked, more than any TransferLab export holds. "
                          "Refusing it.")


def _unzip(archive: Path, dest: Path, name: str) -> None:
    """Check every member first (nothing is written for a bad archive), then unpack, counting bytes."""
    try:
        handle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExportError(f"{name} is not a readable zip file ({exc}); export the run again.") from exc
    with handle:
        members = []
        for info in handle.infolist():
            relative = info.filename
            _check_member_name(relative, name)
            file_type = stat.S_IFMT((info.external_attr >> 16) & 0xFFFF)  # 0 when the zip tool recorded none
            if file_type == stat.S_IFLNK:
                raise ExportError(f"{name} has a symbolic link {relative!r}; exports never hold links. Refusing "
                                  "the archive.")
            if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise ExportError(f"{name} has {relative!r}, which is not a plain file or folder; refusing the "
                                  "archive.")
            if info.flag_bits & 0x1:
                raise ExportError(f"{name} is encrypted ({relative!r}); import an unencrypted export.")
            if info.is_dir() or _ignored(relative.rstrip("/")):
                continue
            _check_file_type(relative, name)
            if (info.file_size > RATIO_CHECK_BYTES
                    and info.file_size > MAX_RATIO * max(1, info.compress_size)):
                raise ExportError(f"{name}: {relative!r} unpacks {info.file_size / max(1, info.compress_size):.0f} "
                                  "times larger than it is packed (a zip bomb?); refusing the archive.")
            members.append(info)
        _check_caps(len(members), sum(info.file_size for info in members), name)
        root = dest.resolve()
        dest.mkdir(parents=True)
        total = 0
        for info in members:
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(root):  # a second guard behind the name check
                raise ExportError(f"{name} has a member {info.filename!r} that would be written outside the import "
                                  "folder (path traversal); refusing the archive.")
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with handle.open(info) as source, open(target, "xb") as out:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        total += len(chunk)
                        if written > info.file_size:
                            raise ExportError(f"{name}: {info.filename!r} unpacks to more bytes than its header "
                                              "says; the archive is damaged or forged. Refusing it.")
                        _check_caps(len(members), total, name)
                        out.write(chunk)
            except FileExistsError:
                raise ExportError(f"{name} holds {info.filename!r} twice; the archive is damaged.") from None
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
                raise ExportError(f"{name} is damaged ({info.filename!r}: {exc}); export the run again.") from exc


def _copy_folder(source: Path, dest: Path, name: str) -> None:
    """Copy an export folder, refusing links, special files, unknown file types and oversized folders."""
    files: list[tuple[Path, str]] = []
    total = 0
    for folder, subfolders, names in os.walk(source, followlinks=False):
        here = Path(folder)
        for entry in [*subfolders, *names]:
            path = here / entry
            relative = path.relative_to(source).as_posix()
            if path.is_symlink():
                raise ExportError(f"{name} has a symbolic link {relative!r}; exports never hold links. Refusing "
                                  "the folder.")
        for entry in names:
            path = here / entry
            relative = path.relative_to(source).as_posix()
            if _ignored(relative):
                continue
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                raise ExportError(f"{name} has {relative!r}, which is not a plain file; refusing the folder.")
            _check_file_type(relative, name)
            files.append((path, relative))
            total += info.st_size
            _check_caps(len(files), total, name)
    for path, relative in files:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target, follow_symlinks=False)


def _export_root(unpacked: Path) -> Path:
    """The export's own folder: the archive's single top folder (as `tlcore export --zip` writes), or itself."""
    entries = [p for p in unpacked.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name != RECORD_DIR:
        return entries[0]
    return unpacked


# -- checking the export --------------------------------------------------------------------------

def _read_json(path: Path, name: str, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ExportError(f"{name}: {what} is not valid JSON ({exc}); the export is damaged, export the run "
                          "again.") from exc


def check_safetensors(path: Path, name: str) -> None:
    """A safetensors file starts with an 8-byte header length and a JSON header; anything else is refused."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if not 2 <= length <= min(size - 8, MAX_SAFETENSORS_HEADER):
                raise ValueError(f"header length {length} does not fit a file of {size} bytes")
            header = json.loads(handle.read(length).decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (OSError, struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ExportError(f"{name}: {path.name} is not a valid safetensors file ({exc}); the export is damaged, "
                          "export the run again.") from exc


def _check_export(root: Path, name: str) -> dict:
    """The run's config.json from the export's record, after checking it against the export's files."""
    from ..engine.models import is_available, resolve_model
    from ..methods import check_supported, get_method

    record = root / RECORD_DIR / "config.json"
    if not record.is_file():
        hint = (" It looks like a Hugging Face model folder; TransferLab imports only its own exports."
                if (root / "config.json").is_file() else "")
        raise ExportError(f"{name} is not a TransferLab export: it has no {RECORD_DIR}/config.json.{hint} Import a "
                          "folder or .zip written by `tlcore export` or the Use page; an export from an older "
                          "TransferLab has no run record: export the run again.")
    config = _read_json(record, name, f"{RECORD_DIR}/config.json")
    if not isinstance(config, dict):
        raise ExportError(f"{name}: {RECORD_DIR}/config.json is not a JSON object; the export is damaged.")
    missing = [key for key in ("model", "method", "labels") if key not in config]
    if missing:
        raise ExportError(f"{name}: {RECORD_DIR}/config.json has no {', '.join(map(repr, missing))}; the export is "
                          "damaged, export the run again.")
    labels = config["labels"]
    if (not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(label, str) and label for label in labels)
            or len(set(labels)) != len(labels)):
        raise ExportError(f"{name}: the labels in {RECORD_DIR}/config.json must be two or more different "
                          f"non-empty texts; found {labels!r}.")
    if (root / "labels.json").is_file() and _read_json(root / "labels.json", name, "labels.json") != labels:
        raise ExportError(f"{name}: labels.json does not match the run's labels in {RECORD_DIR}/config.json; the "
                          "export was edited or is damaged.")

    try:
        entry = get_method(str(config["method"]))
    except TLCoreError as exc:
        raise type(exc)(f"{name} holds a run of a method this TransferLab does not have: {exc}") from exc
    entry.config_cls.from_dict(config.get("method_options") or {})  # ConfigError names a bad option
    try:
        spec = resolve_model(str(config["model"]))
    except TLCoreError as exc:
        raise type(exc)(f"{name} was trained on model {config['model']!r}, which is not available here: {exc}") \
            from exc
    if not is_available(spec):
        raise ExportError(f"{name} was trained on model {config['model']!r}, which is not installed here; "
                          "install it (see `tlcore models`) and import again.")
    check_supported(entry, spec)

    kind = export_kind(entry.name)
    if kind == "peft":
        needed = ["adapter_config.json", "adapter_model.safetensors"]
    elif kind == "model":
        needed = ["config.json", "model.safetensors"]
    else:
        needed = [f"{RECORD_DIR}/artifacts/{file}" for file in entry.method_cls.required_artifacts]
    absent = [file for file in needed if not (root / file).is_file()]
    if absent:
        raise ExportError(f"{name} is incomplete: {', '.join(absent)} missing for a {entry.name} run; export the "
                          "run again.")
    for file in needed:
        if file.endswith(".json"):
            _read_json(root / file, name, file)
    for weights in root.rglob("*.safetensors"):
        check_safetensors(weights, name)
    if kind == "model":
        id2label = _read_json(root / "config.json", name, "config.json").get("id2label") or {}
        found = [id2label.get(str(i)) for i in range(len(id2label))]
        if found != labels:
            raise ExportError(f"{name}: config.json's id2label {found} does not match the run's labels {labels}; "
                              "the export was edited or is damaged.")
    return config


# -- writing the run ------------------------------------------------------------------------------

def _build_run(root: Path, run_dir: Path, config: dict, run_id: str, source: str) -> None:
    record = root / RECORD_DIR
    artifacts = run_dir / "artifacts"
    artifacts.mkdir(parents=True)
    kind = export_kind(config["method"])
    top_files = [p for p in root.iterdir() if p.is_file() and p.name not in ("README.md", "labels.json")]
    if kind in ("peft", "model"):
        weights = artifacts / ("adapter" if kind == "peft" else "model")
        weights.mkdir()
        for path in top_files:
            shutil.copyfile(path, weights / path.name)
    else:
        for path in (record / "artifacts").glob("*.json"):
            shutil.copyfile(path, artifacts / path.name)
    write_json_atomic(artifacts / "labels.json", config["labels"])

    now = time.time()
    imported_from = {"source": source, "run_id": config.get("run_id"), "created": config.get("created"),
                     "imported": now}
    write_json_atomic(run_dir / "config.json", {**config, "run_id": run_id, "created": now,
                                                "imported_from": imported_from})
    metrics_path = record / "metrics.json"
    if metrics_path.is_file():
        metrics = _read_json(metrics_path, source, f"{RECORD_DIR}/metrics.json")
        if isinstance(metrics, dict):
            write_json_atomic(run_dir / "metrics.json", {**metrics, "run_id": run_id})
    for file in RECORD_FILES:
        if file not in ("config.json", "metrics.json") and (record / file).is_file():
            shutil.copyfile(record / file, run_dir / file)
    write_json_atomic(run_dir / "status.json", {"status": "succeeded", "created": now, "started": now,
                                                "finished": now, "stage": "done", "error": None, "imported": True})
