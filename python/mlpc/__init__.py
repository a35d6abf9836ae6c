"""mlpc: multilayer perceptrons from first principles, with a C core.

    import mlpc
    net = mlpc.Sequential(mlpc.Linear(784, 100), mlpc.ReLU(), mlpc.Linear(100, 10))
    loss_fn = mlpc.SoftmaxCrossEntropy()
    opt = mlpc.SGD(net, lr=0.1, momentum=0.9)
    cost = net.train_step(X, y, loss_fn, opt)
"""
import os as _os

from . import _core
from ._seed import manual_seed
from .layers import (Layer, Linear, Activation, Identity, Step, Sigmoid, Tanh, ReLU, LeakyReLU,
                     PReLU, ELU, SELU, GELU, Softplus, SiLU, Swish, Softsign, GLU, ReGLU, GEGLU,
                     SwiGLU, ACTIVATIONS)
from .blocks import BatchNorm, LayerNorm, Dropout, Residual
from .network import Sequential
from .losses import SoftmaxCrossEntropy, BinaryCrossEntropy, MSELoss, softmax
from .optim import SGD, AdaGrad, RMSProp, Adam, AdamW, clip_grad_norm, clip_grad_value
from .gradcheck import gradcheck
from .training import fit, evaluate, History, Callback, EarlyStopping
from .recorder import Recorder
from .serialize import save, load, save_optimizer, load_optimizer, from_torch, ModelFileError
from . import init, schedules, testing, data, plot, training, serialize

__version__ = "0.1.0"


def set_num_threads(n):
    """Number of threads OpenBLAS uses for mlpc's matrix products."""
    _core.set_num_threads(int(n))


def get_num_threads():
    return _core.get_num_threads()


# One OpenBLAS thread by default. The GEMMs of teaching-size networks gain little from more
# (benchmarks/bench_step.py), and OpenBLAS threads spin while they wait: on a loaded or
# CPU-quota'd machine (a shared notebook server, a test run beside other work) two threads made a
# step 5-100x slower. mlpc.set_num_threads(n), MLPC_NUM_THREADS or OPENBLAS_NUM_THREADS raise it.
if "MLPC_NUM_THREADS" in _os.environ:
    set_num_threads(_os.environ["MLPC_NUM_THREADS"])
elif "OPENBLAS_NUM_THREADS" not in _os.environ:
    set_num_threads(1)
