"""Scores pairs with phiforge's NumPy scorer and with sentence-transformers, the library it stands in
for, on the same packaged all-MiniLM-L6-v2.

Usage: python similarity_agreement.py   (with toolchains/common/scripts on PYTHONPATH)
Prints one JSON line: {"numpy": [...], "sentence_transformers": [...]}.
"""

import json

from sentence_transformers import SentenceTransformer
from similarity import BertEncoder, default_model_dir

PAIRS = [
    ("The capital of France is Paris.", "Paris is the capital city of France."),
    ("I am an AI assistant here to help you.", "Hello! I'm a helpful assistant."),
    ("Name three primary colors: red, blue and yellow.", "The sea was calm that evening."),
    ("2 plus 2 is 4.", "four"),
]

folder = default_model_dir()
ours = BertEncoder(folder)
theirs = SentenceTransformer(folder, device="cpu")
numpy_scores = [float(ours.embed(a) @ ours.embed(b)) for a, b in PAIRS]
left = theirs.encode([a for a, _ in PAIRS], normalize_embeddings=True)
right = theirs.encode([b for _, b in PAIRS], normalize_embeddings=True)
print(json.dumps({"numpy": numpy_scores, "sentence_transformers": [float((x * y).sum()) for x, y in zip(left, right)]}))
