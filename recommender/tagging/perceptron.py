"""Single- and two-layer perceptron taggers: y = sigmoid(W f) and y = sigmoid(W2 ReLU(W1 f)).

Both minimise the summed binary cross-entropy over tags plus an L2 penalty with
scipy's L-BFGS on the exact gradient, so they are deterministic for a seed and
need no sklearn estimator (MLPClassifier cannot express a net without a hidden
layer, and its fitted object would need pickle to save). Inputs are
standardised with statistics saved alongside the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recommender.core.bundle import Shapes
from recommender.core.component import State, Tagger
from recommender.core.configs import Config
from recommender.tagging.inputs import check_fit_inputs


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


def _bce(logits: np.ndarray, Y: np.ndarray) -> float:
    # log(1 + e^z) - y z, stable for large |z|
    return float(np.sum(np.logaddexp(0.0, logits) - Y * logits))


@dataclass(frozen=True)
class LinearConfig(Config):
    """alpha: L2 penalty; max_iter: L-BFGS iterations."""

    alpha: float = 1e-2
    max_iter: int = 300
    seed: int = 0


@dataclass(frozen=True)
class MLPConfig(Config):
    """hidden: ReLU units shared by all tags; alpha: L2 penalty; max_iter: L-BFGS iterations."""

    hidden: int = 64
    alpha: float = 1e-2
    max_iter: int = 400
    seed: int = 0


class _Standardised(Tagger):
    """Shared input scaling, L-BFGS loop and persistence; subclasses define the network."""

    # name -> shape of each weight array (dimension names as `Shapes` binds them)
    WEIGHTS: ClassVar[dict[str, tuple[str, ...]]]

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
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
                loss_grad,
                theta0,
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": self.config.max_iter},
            )
        self.fitted = True
        return result.x

    @property
    def n_tags(self) -> int:
        return len(getattr(self, f"{next(reversed(self.WEIGHTS))}_"))  # the last: tag biases

    def _state(self) -> State:
        arrays = {"mean": self.mean_, "scale": self.scale_}
        return State(arrays=arrays | {name: getattr(self, f"{name}_") for name in self.WEIGHTS})

    def _restore(self, state: State) -> None:
        a = Shapes(state.arrays)
        self.mean_, self.scale_ = a("mean", ("features",)), a("scale", ("features",))
        for name, shape in self.WEIGHTS.items():
            setattr(self, f"{name}_", a(name, shape))


class LinearTagger(_Standardised):
    """Multi-label logistic regression: one weight vector and bias per tag, fitted jointly."""

    name: ClassVar[str] = "linear"
    Config: ClassVar[type[Config]] = LinearConfig
    WEIGHTS = {"W": ("features", "tags"), "b": ("tags",)}

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
            loss = _bce(logits, Y) / n + 0.5 * self.config.alpha * np.sum(W * W)
            gW = Z.T @ err / n + self.config.alpha * W
            return loss, np.concatenate([gW.ravel(), err.mean(axis=0)])

        theta0 = np.concatenate([np.zeros(d * n_tags), np.log(prior / (1 - prior))])
        theta = self._minimise(loss_grad, theta0)
        self.W_ = theta[: d * n_tags].reshape(d, n_tags)
        self.b_ = theta[d * n_tags :]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return _sigmoid(self._scale(X) @ self.W_ + self.b_)


class MLPTagger(_Standardised):
    """One ReLU hidden layer shared by all tags, one logistic output per tag."""

    name: ClassVar[str] = "mlp"
    Config: ClassVar[type[Config]] = MLPConfig
    WEIGHTS = {
        "W1": ("features", "hidden"),
        "b1": ("hidden",),
        "W2": ("hidden", "tags"),
        "b2": ("tags",),
    }

    def fit(self, X: np.ndarray, Y: np.ndarray) -> MLPTagger:
        X, Y = check_fit_inputs(X, Y)
        Z = self._scale_fit(X)
        n, d = Z.shape
        h, n_tags = self.config.hidden, Y.shape[1]
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
            loss = _bce(logits, Y) / n + 0.5 * self.config.alpha * (
                np.sum(W1 * W1) + np.sum(W2 * W2)
            )
            gW2 = H.T @ err + self.config.alpha * W2
            back = (err @ W2.T) * (pre > 0)
            gW1 = Z.T @ back + self.config.alpha * W1
            grads = [gW1, back.sum(axis=0), gW2, err.sum(axis=0)]
            return loss, np.concatenate([g.ravel() for g in grads])

        rng = np.random.default_rng(self.config.seed)
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
