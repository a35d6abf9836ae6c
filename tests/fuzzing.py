"""What the fuzz tests share: the seed, the budget, the report and random networks.

Each run draws a fresh seed (printed, and named in every failure) unless MLPC_FUZZ_SEED is set;
case i runs on np.random.default_rng([seed, i]), so one failing case replays alone:
MLPC_FUZZ_SEED=<seed> MLPC_FUZZ_FIRST=<i> MLPC_FUZZ_CASES=1. A run stops after MLPC_FUZZ_CASES
cases (default 3000) or MLPC_FUZZ_SECONDS seconds (default 30), whichever comes first; a
longer developer run raises both.
"""
import os
import secrets
import time

import numpy as np

import mlpc


def _env_int(name, default):
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def _env_float(name, default):
    value = os.environ.get(name)
    return default if value in (None, "") else float(value)


def seed():
    """MLPC_FUZZ_SEED, or a fresh seed."""
    return _env_int("MLPC_FUZZ_SEED", secrets.randbits(32))


def run(name, case, seed, cases=3000, seconds=30.0):
    """Run case(rng, i) for i = first, first + 1 ... within the budget; returns the count. An
    AssertionError (or any exception the case lets through) is re-raised naming the seed and
    the case, so that it can be replayed."""
    first = _env_int("MLPC_FUZZ_FIRST", 0)
    cases = _env_int("MLPC_FUZZ_CASES", cases)
    seconds = _env_float("MLPC_FUZZ_SECONDS", seconds)
    start = time.monotonic()
    done = 0
    for i in range(first, first + cases):
        if done and time.monotonic() - start > seconds:
            break
        try:
            case(np.random.default_rng([seed, i]), i)
        except BaseException as e:
            raise AssertionError(f"{name}: case {i} of seed {seed} failed (replay with "
                                 f"MLPC_FUZZ_SEED={seed} MLPC_FUZZ_FIRST={i} "
                                 f"MLPC_FUZZ_CASES=1): {type(e).__name__}: {e}") from e
        done += 1
    elapsed = time.monotonic() - start
    print(f"{name}: {done} cases in {elapsed:.1f} s ({done / max(elapsed, 1e-9):.0f} per "
          f"second), seed {seed} (MLPC_FUZZ_SEED to replay)")
    return done


def number(r, lo, hi):
    return float(r.uniform(lo, hi))


# -- random networks -------------------------------------------------------------------------------
SIMPLE = [mlpc.Identity, mlpc.Sigmoid, mlpc.Tanh, mlpc.ReLU, mlpc.SELU, mlpc.Softplus, mlpc.SiLU,
          mlpc.Softsign, mlpc.Step]


def random_layers(r, width, depth=0):
    """(layers, output width) starting from rows of `width`."""
    layers = []
    for _ in range(int(r.integers(1, 4))):
        k = int(r.integers(12))
        if k <= 2:
            out = int(r.integers(1, 7))
            init = [None, "he_normal", "xavier_uniform", "lecun_normal", "orthogonal",
                    ("normal", 0.5), ("uniform", 0.3), ("constant", 0.1)][int(r.integers(8))]
            layers.append(mlpc.Linear(width, out, bias=bool(r.random() < 0.8),
                                      **({} if init is None else {"init": init})))
            width = out
        elif k == 3:
            layers.append(SIMPLE[int(r.integers(len(SIMPLE)))]())
        elif k == 4:
            layers.append([mlpc.LeakyReLU(number(r, -1, 1)), mlpc.ELU(number(r, 0, 2)),
                           mlpc.GELU(["none", "tanh"][int(r.integers(2))]),
                           mlpc.Swish(number(r, 0.1, 2), learnable=bool(r.random() < 0.5))]
                          [int(r.integers(4))])
        elif k == 5:
            layers.append(mlpc.PReLU([1, width][int(r.integers(2))], init=number(r, 0, 0.5)))
        elif k == 6 and width % 2 == 0:
            layers.append([mlpc.GLU(), mlpc.ReGLU(), mlpc.GEGLU(), mlpc.SwiGLU(),
                           mlpc.GLU("tanh")][int(r.integers(5))])
            width //= 2
        elif k == 7:
            layers.append(mlpc.BatchNorm(width, eps=10 ** number(r, -5, -1),
                                         momentum=number(r, 0, 1), affine=bool(r.random() < 0.7)))
        elif k == 8:
            layers.append(mlpc.LayerNorm(width, eps=10 ** number(r, -5, -1),
                                         affine=bool(r.random() < 0.7)))
        elif k == 9:
            layers.append(mlpc.Dropout(number(r, 0, 0.9)))
        elif k == 10 and depth < 2:
            block, out = random_layers(r, width, depth + 1)
            if out != width:
                block.append(mlpc.Linear(out, width))
            layers.append(mlpc.Residual(*block) if r.random() < 0.7 else mlpc.Sequential(*block))
        else:
            layers.append(mlpc.Tanh())
    return layers, width


def random_net(r):
    width = int(r.integers(1, 7))
    layers, out = random_layers(r, width)
    if r.random() < 0.7 and not isinstance(layers[0], mlpc.Linear):
        layers.insert(0, mlpc.Linear(width, width))
    dtype = ["float32", "float64"][int(r.integers(2))]
    net = mlpc.Sequential(*layers, dtype=dtype, l2=[0.0, 1e-3][int(r.integers(2))],
                          seed=int(r.integers(1 << 30)))
    if net._core is None:   # built by its first forward pass when no layer fixes the width
        net(np.zeros((2, width)))
    return net, width
