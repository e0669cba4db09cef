"""Perplexity of a text from a model's logits, computed one way for the source model and for every
artifact, so their ratio compares models and not formulas.
"""

import numpy as np


def perplexity(logits, token_ids: list) -> dict:
    """logits: one row per token of token_ids (row i scores the token after token i), any float type.

    Returns {"value": exp(mean negative log-likelihood of tokens 2..n), "tokens": n}.
    """
    if len(token_ids) < 2:
        raise ValueError("perplexity needs a text of at least two tokens")
    rows = np.asarray(logits, dtype=np.float64)[: len(token_ids) - 1]
    targets = np.asarray(token_ids[1:])
    shifted = rows - rows.max(axis=-1, keepdims=True)
    log_likelihoods = shifted[np.arange(len(targets)), targets] - np.log(np.exp(shifted).sum(axis=-1))
    return {"value": float(np.exp(-log_likelihoods.mean())), "tokens": len(token_ids)}
