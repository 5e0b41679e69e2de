"""Tokenized rows and padded batches, shared by training and by the encoder's and decoder's scoring."""
from __future__ import annotations

from typing import Sequence


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[dict[str, list[int]]]:
    """Each text's token ids (and the other model inputs), unpadded."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in encoded]
    return [{k: encoded[k][i] for k in keys} for i in range(len(texts))]


def collate(tokenizer, rows: Sequence[dict[str, list[int]]], device: str) -> dict:
    """Pad rows to the batch's longest one, exactly as ``tokenizer(texts, padding=True)`` would."""
    import torch

    width = max(len(row["input_ids"]) for row in rows)
    fill = {"input_ids": tokenizer.pad_token_id, "attention_mask": 0,
            "token_type_ids": getattr(tokenizer, "pad_token_type_id", 0)}
    left = tokenizer.padding_side == "left"
    batch = {}
    for key in rows[0]:
        out = torch.full((len(rows), width), fill[key], dtype=torch.long)
        for i, row in enumerate(rows):
            values = torch.tensor(row[key], dtype=torch.long)
            if left:
                out[i, width - len(values):] = values
            else:
                out[i, :len(values)] = values
        batch[key] = out.to(device)
    return batch
