"""Compares derive_variant.py's bf16 -> fp16 rounding with torch's cast (what a direct fp16 export uses)
on every one of the 65536 bf16 bit patterns, split into tensors of uneven sizes so that slices end
inside tensors and tensors end inside slices.

Usage: python f16_rounding.py
Prints one JSON line: {"checked": N, "mismatches": N, "first": [[bf16_bits, ours, torch's], ...]}.
NaNs count as equal when both are NaN (their payloads are not part of the contract).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "toolchains" / "openvino" / "scripts"))
import derive_variant  # noqa: E402

derive_variant.ROUNDING_SLICE = 1000
patterns = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
sizes = [1, 999, 1000, 1001, 7, 30000]
sizes.append(patterns.size - sum(sizes))
tensors = np.split(patterns, np.cumsum(sizes)[:-1])
ours = np.concatenate(derive_variant.rounded_to_f16(tensors))
theirs = torch.from_numpy(patterns.view(np.int16).copy()).view(torch.bfloat16).to(torch.float16).view(torch.int16).numpy().view(np.float16)
same = (ours.view(np.uint16) == theirs.view(np.uint16)) | (np.isnan(ours) & np.isnan(theirs))
wrong = np.flatnonzero(~same)
print(json.dumps({
    "checked": int(ours.size),
    "mismatches": int(wrong.size),
    "first": [[int(patterns[i]), float(ours[i]), float(theirs[i])] for i in wrong[:5]],
}))
