"""Run the exported network with ONNX Runtime: what serving needs instead of PyTorch."""

from __future__ import annotations

import numpy as np

from recommender.errors import ModelBundleError

BATCH = 64  # chunks per run: bounded memory on long files, full batches on catalogues


class OnnxNetwork:
    """The network from ONNX bytes; `run` maps chunks to (logits, embeddings)."""

    def __init__(self, model: bytes, *, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # One thread by default: a served request is one clip, and the server's workers
        # are the parallelism (as for BLAS, see core.blas).
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                model, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own classes for a bad graph
            raise ModelBundleError(
                f"the CNN network does not load in ONNX Runtime ({type(exc).__name__}); "
                "run `recsys train tagger --model cnn` again"
            ) from None
        self.input = self.session.get_inputs()[0].name

    def run(self, chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """chunks (n, n_mels, frames) float32 -> logits (n, n_tags), embeddings (n, dim)."""
        logits, embeddings = [], []
        for start in range(0, len(chunks), BATCH):
            batch = np.ascontiguousarray(chunks[start : start + BATCH], dtype=np.float32)
            out_logits, out_embedding = self.session.run(None, {self.input: batch})
            logits.append(out_logits)
            embeddings.append(out_embedding)
        return np.concatenate(logits), np.concatenate(embeddings)
