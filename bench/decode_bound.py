"""Helper of bench/decode-bound.mjs, run in phiforge's openvino-runtime venv.

Prints JSON with this machine's memory read bandwidth and the bytes of weights an OpenVINO IR reads
for each generated token. Decoding one token reads every weight matrix once (the embedding table
excepted: one row of it), so bandwidth / bytes-per-token bounds tokens per second from above.
"""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import openvino as ov

# Operations between a stored weight and its use: NNCF's decompression (Convert, Subtract the zero
# point, Multiply by the scale) and shape bookkeeping.
PASS_THROUGH = {"Convert", "Subtract", "Multiply", "Reshape", "Unsqueeze", "Squeeze", "Transpose"}


def read_bandwidth(gib: float = 2.0, repeats: int = 7) -> float:
    """Bytes per second summing a buffer far larger than any cache, on every core at once (numpy
    releases the GIL in reductions), best of `repeats`: what a decoder's threads can read at most."""
    data = np.ones(int(gib * 2**30) // 8, dtype=np.float64)
    threads = os.cpu_count() or 1
    parts = np.array_split(data, threads)
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            started = time.perf_counter()
            list(pool.map(np.sum, parts))
            best = max(best, data.nbytes / (time.perf_counter() - started))
    return best


def uses(output):
    """The operations a constant finally feeds, through decompression, with the input port."""
    found = []
    for target in output.get_target_inputs():
        node = target.get_node()
        if node.get_type_name() in PASS_THROUGH:
            for next_output in node.outputs():
                found.extend(uses(next_output))
        else:
            found.append((node.get_type_name(), target.get_index()))
    return found


def weight_bytes_per_token(xml: str) -> dict:
    model = ov.Core().read_model(xml)
    total = embedding_only = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Constant":
            continue
        size = op.get_byte_size()
        if size < 4096:
            continue  # shapes and scalars, not weights
        total += size
        consumers = uses(op.output(0))
        # The embedding table is gathered from, one row per token; a tied one also feeds the LM head
        # (a MatMul) and is then read whole.
        if consumers and all(kind == "Gather" and port == 0 for kind, port in consumers):
            embedding_only += size
    return {"constant_bytes": total, "embedding_bytes": embedding_only, "bytes_per_token": total - embedding_only}


if __name__ == "__main__":
    print(json.dumps({"read_bytes_per_s": read_bandwidth(), **weight_bytes_per_token(sys.argv[1])}))
