"""The matmul peaks a training step is judged against, and the precision that pays on this CPU.

Two peaks per precision (fp32, bf16), both measured in the calling process on its torch threads:

- the 1024 x 1024 product (the classic reference: large enough to run near the hardware's best);
- the model's own products ("shape-matched"): for every plain ``nn.Linear`` (in -> out) of one transformer
  layer, on T rows (the padded tokens of one forward slice), the three products a training step runs:
    forward          x (T x in) @ W^T           every weight
    input gradient   dy (T x out) @ W           weights above the lowest trainable parameter
    weight gradient  dy^T (out x T) @ x         trainable weights only
  mixed as the step mixes them. At ~30 tokens per text and 16 texts a step, T is ~500: products that small can
  run slower or faster than 1024^3 does (on the 2-core EPYC here, idle: 172 against 204 GFLOP/s in fp32, 385
  against 413 in bf16), so this is the fair reference for a model's FLOPs.
"""
from __future__ import annotations

import common

# bf16 cells are measured when its matmuls run at least this much faster than fp32's (tlcore's own "auto" threshold
# where it has one): autocast's casts of every weight and activation cost part of a step, so a bf16 matmul at 1.1x
# would not pay for them.
BF16_MIN_SPEEDUP = 1.5
# The product the rule is measured on: MiniLM's feed-forward (384 -> 1536) on 16 texts of ~30 tokens. Small, so
# the check costs under a second even on a CPU without bf16 instructions (~1 GFLOP/s there).
RULE_SHAPE = (512, 384, 1536)


def precision_check(seconds: float = 0.3) -> dict:
    """fp32 and bf16 matmul speeds (the rule's shape and 1024^2), and whether bf16 is fast enough to measure."""
    m, k, n = RULE_SHAPE
    speeds = {}
    for dtype in ("fp32", "bf16"):
        a, b = common.random_matrix(m, k, dtype), common.random_matrix(k, n, dtype)
        speeds[f"{dtype}_rule_shape"] = 2 * m * k * n / common.best_seconds(lambda: a @ b, seconds) / 1e9
    from tlcore.engine import precision

    threshold = getattr(precision, "AUTO_BF16_MIN_SPEEDUP", BF16_MIN_SPEEDUP)
    ratio = speeds["bf16_rule_shape"] / speeds["fp32_rule_shape"]
    fast = ratio >= threshold
    if fast:  # the big product only where bf16 is fast: on a slow CPU one 1024^3 bf16 product takes seconds
        speeds.update(fp32_1024=common.matmul_peak(seconds, dtype="fp32"),
                      bf16_1024=common.matmul_peak(seconds, dtype="bf16"))
    return {**speeds, "bf16_speedup": ratio, "bf16_fast": fast,
            "rule": f"bf16 cells when a {m} x {k} @ {k} x {n} bf16 matmul runs >= {threshold}x fp32's"}


def layer_linears(model) -> list[tuple[int, int]]:
    """(in, out) of every plain ``nn.Linear`` in the model's first transformer layer; adapters' own small
    products (LoRA's A and B) are left out, as the FLOP count leaves them out."""
    import torch

    from tlcore.methods.full import transformer_layers

    _, layers = transformer_layers(model)
    return [(module.in_features, module.out_features) for name, module in layers[0].named_modules()
            if type(module) is torch.nn.Linear and "lora_" not in name]


def shape_matched_peak(linears: list[tuple[int, int]], tokens: int, dtype: str, path_share: float,
                       train_share: float, seconds: float = 0.12) -> dict:
    """GFLOP/s of one layer's weight products on ``tokens`` rows, mixed as a training step mixes them: every
    forward product, ``path_share`` of the input-gradient ones and ``train_share`` of the weight-gradient ones
    (shares of the non-embedding weights, as in the FLOP count). Also each kind's own speed."""
    import torch

    times = {"forward": 0.0, "input_grad": 0.0, "weight_grad": 0.0}
    flops = 0.0
    for (d_in, d_out), count in _counted(linears).items():
        x, w = common.random_matrix(tokens, d_in, dtype), common.random_matrix(d_out, d_in, dtype)
        dy = common.random_matrix(tokens, d_out, dtype)
        times["forward"] += count * common.best_seconds(lambda: torch.nn.functional.linear(x, w), seconds)
        times["input_grad"] += count * common.best_seconds(lambda: dy @ w, seconds)
        times["weight_grad"] += count * common.best_seconds(lambda: dy.t() @ x, seconds)
        flops += count * 2 * tokens * d_in * d_out
    mixed = flops * (1 + path_share + train_share) / (
        times["forward"] + path_share * times["input_grad"] + train_share * times["weight_grad"])
    return {"gflops": mixed / 1e9, **{f"{kind}_gflops": flops / t / 1e9 for kind, t in times.items()}}


def _counted(linears: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    counts: dict[tuple[int, int], int] = {}
    for shape in linears:
        counts[shape] = counts.get(shape, 0) + 1
    return counts
