"""mlpc: multilayer perceptrons from first principles, with a C core.

    import mlpc
    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10))
    loss_fn = mlpc.SoftmaxCrossEntropy()
    opt = mlpc.SGD(net, lr=0.1, momentum=0.9)
    cost = net.train_step(X, y, loss_fn, opt)
"""
import os as _os
import sys as _sys
import warnings as _warnings

import numpy as _np

from . import _core
from ._seed import manual_seed
from .layers import (Layer, Linear, Activation, Identity, Step, Sigmoid, Tanh, ReLU, LeakyReLU,
                     PReLU, ELU, SELU, GELU, Softplus, SiLU, Swish, Softsign, GLU, ReGLU, GEGLU,
                     SwiGLU, ACTIVATIONS)
from .blocks import BatchNorm, LayerNorm, Dropout, Residual
from .network import Sequential
from .losses import SoftmaxCrossEntropy, BinaryCrossEntropy, MSELoss, softmax
from .optim import SGD, AdaGrad, RMSProp, Adam, AdamW, clip_grad_norm, clip_grad_value
from .gradcheck import gradcheck, GradcheckResult
from .training import fit, evaluate, History, Callback, EarlyStopping
from .recorder import Recorder
from .tensorboard import TensorBoard
from .lr_range import lr_find
from .serialize import save, load, save_optimizer, load_optimizer, from_torch, ModelFileError
from . import init, schedules, testing, data, plot, training, serialize, tensorboard
from . import summary   # registers net.summary()'s table (mlpc._registry)

__version__ = "0.1.0"

__all__ = [
    "manual_seed", "set_num_threads", "get_num_threads",
    "Layer", "Linear", "Activation", "Identity", "Step", "Sigmoid", "Tanh", "ReLU", "LeakyReLU",
    "PReLU", "ELU", "SELU", "GELU", "Softplus", "SiLU", "Swish", "Softsign", "GLU", "ReGLU",
    "GEGLU", "SwiGLU", "ACTIVATIONS", "BatchNorm", "LayerNorm", "Dropout", "Residual",
    "Sequential", "SoftmaxCrossEntropy", "BinaryCrossEntropy", "MSELoss", "softmax",
    "SGD", "AdaGrad", "RMSProp", "Adam", "AdamW", "clip_grad_norm", "clip_grad_value",
    "gradcheck", "fit", "evaluate", "History", "Callback", "EarlyStopping", "Recorder",
    "TensorBoard", "lr_find",
    "save", "load", "save_optimizer", "load_optimizer", "from_torch", "ModelFileError",
    "init", "schedules", "testing", "data", "plot", "training", "serialize", "tensorboard",
]


_MAX_THREADS = 256   # csrc/core/pool.h: MLPC_POOL_MAX_THREADS


def set_num_threads(n: int) -> None:
    """Number of threads mlpc's worker pool uses for a step, the calling thread included: an
    int >= 1, capped at 256. Results do not depend on it (every pass is cut into the same
    blocks whatever the count). The default is the number of CPUs this process may run on
    (its affinity mask), or MLPC_NUM_THREADS when set."""
    if isinstance(n, (bool, _np.bool_)) or not isinstance(n, (int, _np.integer)):
        raise TypeError(f"set_num_threads takes an int >= 1, got {n!r} ({type(n).__name__})")
    if n < 1:
        raise ValueError(f"set_num_threads takes an int >= 1, got {n}")
    _core.set_num_threads(min(int(n), _MAX_THREADS))


def get_num_threads() -> int:
    return _core.get_num_threads()


def _threads_from_environment():
    """MLPC_NUM_THREADS as an int, or None when it is unset or not an int >= 1. A bad value is
    warned about and ignored rather than raised: it only tunes speed, and raising would make
    `import mlpc` (and the mlpc command) fail altogether."""
    value = _os.environ.get("MLPC_NUM_THREADS")
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        _warnings.warn(f"MLPC_NUM_THREADS must be an int >= 1, got {value!r}: ignored, mlpc "
                       f"uses its default number of threads", RuntimeWarning,
                       stacklevel=_importer_stacklevel())
        return None
    return n


def _importer_stacklevel():
    """The warnings.warn stacklevel, for its caller here, of the code that imported mlpc: frames
    in this package and in the import system are passed over (warnings skips importlib's
    frames itself, so they are not counted)."""
    package = _os.path.dirname(_os.path.abspath(__file__))
    frame, level = _sys._getframe(2), 1   # the warning's caller's caller
    while frame is not None:
        name = frame.f_code.co_filename
        internal = "importlib" in name and "_bootstrap" in name
        if not internal:
            level += 1
            if not _os.path.abspath(name).startswith(package + _os.sep):
                return level
        frame = frame.f_back
    return level


# The pool starts with one thread per CPU this process may run on; MLPC_NUM_THREADS overrides it.
# (OpenBLAS itself always runs single-threaded inside mlpc: OPENBLAS_NUM_THREADS does not matter.)
_threads = _threads_from_environment()
set_num_threads(_threads if _threads is not None else _core.default_num_threads())
