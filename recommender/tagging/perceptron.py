"""Single- and two-layer perceptron taggers: y = sigmoid(W f) and y = sigmoid(W2 ReLU(W1 f)).

Both minimise the summed binary cross-entropy over tags plus an L2 penalty with
scipy's L-BFGS on the exact gradient, so they are deterministic for a seed and
need no sklearn estimator (MLPClassifier cannot express a net without a hidden
layer, and its fitted object would need pickle to save). Inputs are
standardised with statistics saved alongside the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recommender.tagging.base import Tagger, check_fit_inputs, load_npz


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def _bce(logits: np.ndarray, Y: np.ndarray) -> float:
    # log(1 + e^z) - y z, stable for large |z|
    return float(np.sum(np.logaddexp(0.0, logits) - Y * logits))


class _Standardised(Tagger):
    """Shared input scaling and L-BFGS loop; subclasses define the network."""

    def __init__(self, *, alpha: float = 1e-2, max_iter: int = 300, seed: int = 0) -> None:
        self.alpha = alpha
        self.max_iter = max_iter
        self.seed = seed
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def _scale_fit(self, X: np.ndarray) -> np.ndarray:
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        return (X - self.mean_) / self.scale_

    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

    def _minimise(self, loss_grad, theta0: np.ndarray) -> np.ndarray:
        from scipy.optimize import minimize
        from threadpoolctl import threadpool_limits

        # The matrices are small: a multi-threaded BLAS spends more time synchronising
        # than computing (100x slower on a busy 2-core machine), so use one thread.
        with threadpool_limits(1):
            result = minimize(
                loss_grad, theta0, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter}
            )
        return result.x


class LinearTagger(_Standardised):
    """Multi-label logistic regression: one weight vector and bias per tag, fitted jointly."""

    kind = "linear"

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "max_iter": self.max_iter, "seed": self.seed}

    def fit(self, X: np.ndarray, Y: np.ndarray) -> LinearTagger:
        X, Y = check_fit_inputs(X, Y)
        Z = self._scale_fit(X)
        n, d = Z.shape
        n_tags = Y.shape[1]
        prior = np.clip(Y.mean(axis=0), 1e-3, 1 - 1e-3)

        def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W = theta[: d * n_tags].reshape(d, n_tags)
            b = theta[d * n_tags :]
            logits = Z @ W + b
            err = _sigmoid(logits) - Y
            loss = _bce(logits, Y) / n + 0.5 * self.alpha * np.sum(W * W)
            gW = Z.T @ err / n + self.alpha * W
            return loss, np.concatenate([gW.ravel(), err.mean(axis=0)])

        theta0 = np.concatenate([np.zeros(d * n_tags), np.log(prior / (1 - prior))])
        theta = self._minimise(loss_grad, theta0)
        self.W_ = theta[: d * n_tags].reshape(d, n_tags)
        self.b_ = theta[d * n_tags :]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return _sigmoid(self._scale(X) @ self.W_ + self.b_)

    def save(self, directory: Path) -> None:
        np.savez(directory / "linear.npz", mean=self.mean_, scale=self.scale_, W=self.W_, b=self.b_)

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> LinearTagger:
        arrays = load_npz(directory / "linear.npz")
        tagger = cls(**params)
        tagger.mean_, tagger.scale_ = arrays["mean"], arrays["scale"]
        tagger.W_, tagger.b_ = arrays["W"], arrays["b"]
        return tagger


class MLPTagger(_Standardised):
    """One ReLU hidden layer shared by all tags, one logistic output per tag."""

    kind = "mlp"

    def __init__(
        self, *, hidden: int = 64, alpha: float = 1e-2, max_iter: int = 400, seed: int = 0
    ) -> None:
        super().__init__(alpha=alpha, max_iter=max_iter, seed=seed)
        self.hidden = hidden

    def params(self) -> dict[str, Any]:
        return {
            "hidden": self.hidden,
            "alpha": self.alpha,
            "max_iter": self.max_iter,
            "seed": self.seed,
        }

    def fit(self, X: np.ndarray, Y: np.ndarray) -> MLPTagger:
        X, Y = check_fit_inputs(X, Y)
        Z = self._scale_fit(X)
        n, d = Z.shape
        h, n_tags = self.hidden, Y.shape[1]
        shapes = [(d, h), (h,), (h, n_tags), (n_tags,)]
        sizes = [int(np.prod(s)) for s in shapes]

        def unpack(theta: np.ndarray) -> list[np.ndarray]:
            parts, start = [], 0
            for shape, size in zip(shapes, sizes, strict=True):
                parts.append(theta[start : start + size].reshape(shape))
                start += size
            return parts

        def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W1, b1, W2, b2 = unpack(theta)
            pre = Z @ W1 + b1
            H = np.maximum(pre, 0.0)
            logits = H @ W2 + b2
            err = (_sigmoid(logits) - Y) / n
            loss = _bce(logits, Y) / n + 0.5 * self.alpha * (np.sum(W1 * W1) + np.sum(W2 * W2))
            gW2 = H.T @ err + self.alpha * W2
            back = (err @ W2.T) * (pre > 0)
            gW1 = Z.T @ back + self.alpha * W1
            grads = [gW1, back.sum(axis=0), gW2, err.sum(axis=0)]
            return loss, np.concatenate([g.ravel() for g in grads])

        rng = np.random.default_rng(self.seed)
        prior = np.clip(Y.mean(axis=0), 1e-3, 1 - 1e-3)
        init = [  # He initialisation for the ReLU layer, Glorot for the output
            rng.normal(0.0, np.sqrt(2.0 / d), (d, h)),
            np.full(h, 0.01),
            rng.normal(0.0, np.sqrt(2.0 / (h + n_tags)), (h, n_tags)),
            np.log(prior / (1 - prior)),
        ]
        theta = self._minimise(loss_grad, np.concatenate([p.ravel() for p in init]))
        self.W1_, self.b1_, self.W2_, self.b2_ = unpack(theta)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        H = np.maximum(self._scale(X) @ self.W1_ + self.b1_, 0.0)
        return _sigmoid(H @ self.W2_ + self.b2_)

    def save(self, directory: Path) -> None:
        np.savez(
            directory / "mlp.npz",
            mean=self.mean_,
            scale=self.scale_,
            W1=self.W1_,
            b1=self.b1_,
            W2=self.W2_,
            b2=self.b2_,
        )

    @classmethod
    def load(cls, directory: Path, params: dict[str, Any]) -> MLPTagger:
        a = load_npz(directory / "mlp.npz")
        tagger = cls(**params)
        tagger.mean_, tagger.scale_ = a["mean"], a["scale"]
        tagger.W1_, tagger.b1_, tagger.W2_, tagger.b2_ = a["W1"], a["b1"], a["W2"], a["b2"]
        return tagger
