"""Peak memory of a run (tlcore.engine.memory, and the token budget of prediction batches): freed memory goes back to
the operating system, and no prediction batch holds more padded tokens than the budget."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch

from tlcore.engine import memory, training
from tlcore.engine.models import load_tokenizer, model_folder, resolve_model

glibc_only = pytest.mark.skipif(not memory.supported(), reason="malloc_trim and mallopt are glibc's")


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


@glibc_only
def test_return_freed_memory_hands_a_fragmented_heap_back():
    # Many tensors of different sizes below glibc's smallest mmap threshold (128 KiB) come from the heap; one kept
    # alive above them stops glibc from shrinking the heap's top on its own, as a model's tensors do in a run.
    sizes = torch.randint(4_000, 30_000, (2_500,)).tolist()  # float32: 16-120 KB each, ~170 MB in all
    tensors = [torch.full((n,), 1.0) for n in sizes]
    pin = torch.full((1_000,), 1.0)
    held = _rss_mb()
    del tensors
    kept = _rss_mb()
    assert memory.return_freed_memory()
    returned = _rss_mb()
    assert held - kept < 50  # freed, but glibc keeps the pages...
    assert kept - returned > 100  # ...until asked to hand them back
    assert pin.sum() == 1_000


@glibc_only  # mallinfo2 counts the heap in use
def test_limited_kernel_caches_stop_bf16_products_of_new_shapes_from_growing_the_heap():
    # In fresh processes (oneDNN reads its cache sizes once): one bf16 linear layer, trained on 150 batch lengths.
    script = textwrap.dedent("""
        import ctypes, os, sys
        from tlcore.engine import memory
        os.environ["LRU_CACHE_CAPACITY"] = "64"  # a user's own value: kept
        if sys.argv[1] == "limited":
            assert memory.limit_kernel_caches() == ["ONEDNN_PRIMITIVE_CACHE_CAPACITY=64"]
            assert os.environ["LRU_CACHE_CAPACITY"] == "64"
        else:
            os.environ["LRU_CACHE_CAPACITY"] = "1024"  # oneDNN's and ideep's default
        import torch

        class Info(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                             "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = Info
        def in_use():
            info = libc.mallinfo2()
            return (info.uordblks + info.hblkhd) / 2**20
        torch.set_num_threads(1)
        layer = torch.nn.Linear(384, 384)
        def step(rows):
            with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
                out = layer(torch.randn(rows, 384, requires_grad=True))
            out.float().sum().backward()
        step(8)
        before = in_use()
        for rows in range(9, 159):
            step(rows)
        print(in_use() - before)
    """)
    # Without the caps an in-process run of an earlier test may have left in this process's environment.
    env = {k: v for k, v in os.environ.items() if k not in memory.KERNEL_CACHE_ENV}
    grown = {mode: float(subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True,
                                        check=True, env=env).stdout) for mode in ("default", "limited")}
    if grown["default"] < 64:
        pytest.skip(f"this CPU's bf16 products keep no kernel per shape (grew {grown['default']:.0f} MB)")
    assert grown["limited"] < grown["default"] / 2, grown  # measured here: ~35 MB against ~240 MB


def _model(params: int, hidden: int, layers: int):
    """What slice_tokens reads of a model: its config and its parameters (on the meta device: no memory)."""
    return SimpleNamespace(config=SimpleNamespace(hidden_size=hidden, num_hidden_layers=layers),
                           parameters=lambda: [torch.empty(params, device="meta")])


def test_small_models_slice_batches_within_a_budget_the_size_of_their_weights():
    assert training.slice_tokens(_model(22_713_216, 384, 6)) == 455  # minilm: 91 MB of weights, 128 MB of activations
    assert training.slice_tokens(_model(60_000_000, 384, 6)) == 4 * 60_000_000 // (128 * 384 * 6)  # its weights
    assert training.slice_tokens(_model(134_515_008, 576, 30)) == 242  # smollm2-135m: 512 MB, as before


def test_prediction_batches_keep_to_the_token_budget_and_cover_every_row_once():
    lengths = [128] * 7 + [19] * 300 + [60] * 50 + [500]
    batches = training.prediction_batches(lengths, batch_size=64, max_tokens=2048)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(len(batch) * max(lengths[i] for i in batch) <= 2048 for batch in batches if len(batch) > 1)
    assert [len(batch) for batch in batches if lengths[batch[0]] == 19][:4] == [64, 64, 64, 64]  # short: full batches
    assert [lengths[i] for i in batches[-1]] == [500]  # longer than the budget: alone
    unbounded = training.prediction_batches(lengths, batch_size=64, max_tokens=None)  # a GPU's batches, as before
    assert [len(batch) for batch in unbounded] == [64] * 5 + [38]


def test_token_budget_changes_batches_not_predictions(monkeypatch):
    from transformers import AutoModelForSequenceClassification

    folder = model_folder(resolve_model("minilm"))
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(str(folder), num_labels=3)
    tokenizer = load_tokenizer(str(folder))
    texts = [" ".join(["word"] * n) for n in (3, 40, 7, 90, 12, 5, 60)]
    whole = training.predict_logits(model, tokenizer, texts, 128, "cpu")
    monkeypatch.setattr(training, "PREDICT_MAX_TOKENS", 100)  # 1-3 texts per batch
    sliced = training.predict_logits(model, tokenizer, texts, 128, "cpu")
    assert torch.allclose(whole, sliced, atol=1e-4)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM and the carried-over ru_maxrss are Linux's")
def test_a_run_started_from_a_big_process_reports_its_own_peak():
    held = bytearray(600 * 2**20)  # this process now holds 600 MB more
    held[::4096] = b"x" * len(held[::4096])  # touched, so resident
    script = ("import resource; from tlcore.engine.memory import peak_rss_mb; "
              "print(peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    own, carried = map(float, subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                             check=True).stdout.split())
    assert own < 300  # the child itself: Python and tlcore's package
    assert carried > 600  # what ru_maxrss would have reported: the parent's memory
    del held
