"""Type stubs of mlpc._core, the CPython wrapper over the C core (csrc/module). Users work with
mlpc.Sequential and the optimizers; these are the calls the package makes."""
from typing import Any, Mapping, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

ACT_ELU: int
ACT_GELU: int
ACT_GELU_TANH: int
ACT_IDENTITY: int
ACT_LEAKY_RELU: int
ACT_RELU: int
ACT_SELU: int
ACT_SIGMOID: int
ACT_SILU: int
ACT_SOFTPLUS: int
ACT_SOFTSIGN: int
ACT_STEP: int
ACT_SWISH: int
ACT_TANH: int
FLOAT32: int
FLOAT64: int
INIT_CONSTANT: int
INIT_HE_NORMAL: int
INIT_HE_UNIFORM: int
INIT_LECUN_NORMAL: int
INIT_LECUN_UNIFORM: int
INIT_NORMAL: int
INIT_ORTHOGONAL: int
INIT_UNIFORM: int
INIT_XAVIER_NORMAL: int
INIT_XAVIER_UNIFORM: int
INIT_ZEROS: int
LAYER_ACTIVATION: int
LAYER_BATCHNORM: int
LAYER_DROPOUT: int
LAYER_GATED: int
LAYER_LAYERNORM: int
LAYER_LINEAR: int
LAYER_PRELU: int
LAYER_RESIDUAL: int
LOSS_BINARY_CROSS_ENTROPY: int
LOSS_MSE: int
LOSS_SOFTMAX_CROSS_ENTROPY: int
OPT_ADAGRAD: int
OPT_ADAM: int
OPT_ADAMW: int
OPT_RMSPROP: int
OPT_SGD: int
SOURCE_GRAD: int
SOURCE_GRAD_OUTPUT: int
SOURCE_OUTPUT: int
SOURCE_PARAM: int

_Array = NDArray[Any]

def set_num_threads(n: int, /) -> None: ...
def get_num_threads() -> int: ...
def init_weight(kind: int, rows: int, cols: int, value: float, seed: int, /) -> NDArray[np.float64]: ...
def activation(kind: int, x: ArrayLike, alpha: float, /) -> tuple[_Array, _Array]: ...
def loss(kind: int, scores: ArrayLike, targets: ArrayLike, /) -> tuple[float, _Array]: ...
def moments(x: ArrayLike, bins: int = ..., lo: float = ..., hi: float = ..., /) -> tuple[_Array, Optional[_Array]]: ...
def softmax(scores: ArrayLike, /) -> _Array: ...

class Net:
    training: bool
    l2: float
    @property
    def batch_size(self) -> int: ...
    @property
    def num_params(self) -> int: ...
    @property
    def dtype(self) -> int: ...
    def __init__(self, dtype: int, layers: list[Mapping[str, Any]]) -> None: ...
    def forward(self, X: ArrayLike, /) -> _Array: ...
    def backward(self, dY: Optional[ArrayLike] = None, need_dx: bool = True, /) -> Optional[_Array]: ...
    def loss(self, kind: int, targets: ArrayLike, /) -> float: ...
    def cost(self, X: ArrayLike, targets: ArrayLike, kind: int, /) -> float: ...
    def train_step(self, X: ArrayLike, targets: ArrayLike, loss_kind: int, optimizer: Optimizer, /) -> float: ...
    def penalty(self) -> float: ...
    def zero_grad(self) -> None: ...
    def grad_norm(self) -> float: ...
    def snapshot(self, which: Sequence[Any], ranges: Any, bins: int, /) -> tuple[_Array, _Array]: ...
    def tensors(self) -> list[tuple[int, int, int, bool]]: ...
    def param(self, t: int, /) -> _Array: ...
    def grad(self, t: int, /) -> _Array: ...
    def flat(self, grads: bool, /) -> _Array: ...
    def running_stats(self, l: int, /) -> tuple[_Array, _Array]: ...
    def output(self, l: int, /) -> Optional[_Array]: ...
    def grad_output(self, l: int, /) -> Optional[_Array]: ...
    def mask(self, l: int, /) -> Optional[_Array]: ...
    def rng_state(self, l: int, /) -> list[int]: ...
    def set_rng_state(self, l: int, state: Sequence[int], /) -> None: ...

class Optimizer:
    lr: float
    momentum: float
    alpha: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    nesterov: bool
    amsgrad: bool
    decay_all: bool
    clip_norm: float
    clip_value: float
    step_count: int
    @property
    def kind(self) -> int: ...
    @property
    def last_grad_norm(self) -> float: ...
    @property
    def net(self) -> Net: ...
    @property
    def state(self) -> _Array: ...
    def __init__(self, net: Net, kind: int, lr: float, momentum: float = ..., alpha: float = ...,
                 beta1: float = ..., beta2: float = ..., eps: float = ..., weight_decay: float = ...,
                 nesterov: bool = ..., amsgrad: bool = ..., decay_all: bool = ...,
                 clip_norm: float = ..., clip_value: float = ...) -> None: ...
    def step(self) -> None: ...
