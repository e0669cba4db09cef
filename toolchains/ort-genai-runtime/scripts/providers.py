"""Lists the execution providers ONNX Runtime offers here, for `phiforge doctor`.

Request: {}
Result:  {"onnxruntime": str, "onnxruntime_genai": str, "providers": [str]}
"""

import onnxruntime
import onnxruntime_genai
from phiforge_io import run


def providers(_request: dict) -> dict:
    return {"onnxruntime": onnxruntime.__version__, "onnxruntime_genai": onnxruntime_genai.__version__, "providers": onnxruntime.get_available_providers()}


if __name__ == "__main__":
    run(providers, name="providers")
