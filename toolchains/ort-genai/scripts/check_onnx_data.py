"""Checks that an ONNX Runtime GenAI model folder is complete before anything tries to run it.

The model builder writes the graph (model.onnx) and the weights (model.onnx.data) separately; a copy
that was cut short or a missing file only shows up later as an obscure load error, or not at all
when the missing bytes are never read. So this reads only the graph (no weights are loaded) and
checks, for every tensor stored outside it, that the bytes it points at lie inside its data file.

Checked: genai_config.json parses and names the decoder graph; that graph, tokenizer.json,
tokenizer_config.json and a chat template (chat_template.jinja or tokenizer_config.json's
chat_template: every validation prompt is rendered with it) exist; every external tensor names a
file inside the folder, its offset + length fits in that file, and its length is the tensor's size.

Request: {"model_dir": str}
Result:  {"problems": [str], "graph": str, "external_tensors": int, "data_files": {name: size in bytes}}
"""

import json
import os
import sys

import onnx
from onnx import TensorProto, helper

from phiforge_io import run

# Element types stored packed, several to a byte: their size is not itemsize * count.
PACKED_BITS = {
    getattr(TensorProto, name): bits
    for name, bits in (("INT4", 4), ("UINT4", 4), ("FLOAT4E2M1", 4), ("INT2", 2), ("UINT2", 2))
    if hasattr(TensorProto, name)
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def expected_bytes(tensor: TensorProto):
    """The byte size of the tensor's raw data, or None where it is not fixed (strings)."""
    count = 1
    for dim in tensor.dims:
        count *= dim
    if tensor.data_type in PACKED_BITS:
        return (count * PACKED_BITS[tensor.data_type] + 7) // 8
    if tensor.data_type in (TensorProto.STRING, TensorProto.UNDEFINED):
        return None
    return count * helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize


def graph_tensors(graph: onnx.GraphProto):
    """Every tensor a graph holds: initializers, sparse ones, and those in node attributes and subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from graph_tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from graph_tensors(subgraph)


def check_external_tensors(model_dir: str, graph_file: str, problems: list):
    """Returns (number of external tensors, {data file: size}) and appends what is wrong to problems."""
    # load_external_data=False: only the graph is read, however large the weights are.
    model = onnx.load(os.path.join(model_dir, graph_file), load_external_data=False)
    root = os.path.realpath(model_dir)
    sizes, count = {}, 0
    beyond = {}  # data file -> tensors past its end: a cut-short file has many, summarized below
    for tensor in graph_tensors(model.graph):
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        count += 1
        entries = {entry.key: entry.value for entry in tensor.external_data}
        name = tensor.name or "(unnamed)"
        location = entries.get("location")
        if not location:
            problems.append(f"tensor {name}: external data without a location")
            continue
        path = os.path.realpath(os.path.join(model_dir, location))
        # The artifact is published as one folder: data elsewhere would not travel with it.
        if os.path.commonpath([root, path]) != root:
            problems.append(f"tensor {name}: data file {location} lies outside the model folder")
            continue
        if location not in sizes:
            sizes[location] = os.path.getsize(path) if os.path.isfile(path) else None
            if sizes[location] is None:
                problems.append(f"{location} is missing (external data of {graph_file})")
        size = sizes[location]
        if size is None:
            continue
        try:
            offset = int(entries.get("offset", 0))
            wanted = expected_bytes(tensor)
            # ONNX allows length to be left out: the tensor's own size is read then.
            length = int(entries["length"]) if "length" in entries else wanted
        except ValueError:
            problems.append(f"tensor {name}: offset/length are not integers ({entries})")
            continue
        if length is None:
            continue
        if wanted is not None and length != wanted:
            problems.append(f"tensor {name}: length {length} bytes but shape {list(tensor.dims)} needs {wanted}")
        if offset < 0 or offset + length > size:
            beyond.setdefault(location, []).append(f"tensor {name}: bytes {offset}..{offset + length} lie beyond the end of {location} ({size} bytes)")
    for location, lines in beyond.items():
        problems.extend(lines[:3])
        if len(lines) > 3:
            problems.append(f"... and {len(lines) - 3} more tensors beyond the end of {location}: the file is cut short")
    return count, {location: size for location, size in sizes.items() if size is not None}


def check(model_dir: str) -> dict:
    problems = []
    config_path = os.path.join(model_dir, "genai_config.json")
    graph_file = "model.onnx"
    if not os.path.isfile(config_path):
        problems.append("genai_config.json is missing")
    else:
        try:
            with open(config_path, encoding="utf-8") as handle:
                graph_file = json.load(handle)["model"]["decoder"].get("filename", graph_file)
        except (ValueError, KeyError, TypeError) as error:
            problems.append(f"genai_config.json has no model.decoder section ({error})")

    tokenizer_config = {}
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if not os.path.isfile(os.path.join(model_dir, name)):
            problems.append(f"{name} is missing (GenAI's tokenizer reads it)")
    if os.path.isfile(os.path.join(model_dir, "tokenizer_config.json")):
        try:
            with open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8") as handle:
                tokenizer_config = json.load(handle)
        except ValueError as error:
            problems.append(f"tokenizer_config.json does not parse ({error})")
    # transformers 5 (and so the model builder) writes the template to its own file.
    if not os.path.isfile(os.path.join(model_dir, "chat_template.jinja")) and not tokenizer_config.get("chat_template"):
        problems.append("no chat template (neither chat_template.jinja nor tokenizer_config.json chat_template)")

    count, data_files = 0, {}
    if not os.path.isfile(os.path.join(model_dir, graph_file)):
        problems.append(f"{graph_file} is missing")
    else:
        try:
            count, data_files = check_external_tensors(model_dir, graph_file, problems)
        except Exception as error:  # a truncated or foreign file fails inside protobuf parsing
            problems.append(f"{graph_file} cannot be read as an ONNX model ({type(error).__name__}: {error})")
    return {"problems": problems, "graph": graph_file, "external_tensors": count, "data_files": data_files}


def check_request(request: dict) -> dict:
    result = check(request["model_dir"])
    for problem in result["problems"]:
        log(f"problem: {problem}")
    log(f"{result['graph']}: {result['external_tensors']} external tensors in {sorted(result['data_files'])}, {len(result['problems'])} problems")
    return result


if __name__ == "__main__":
    run(check_request, name="check_onnx_data", fields={"model_dir": str})
