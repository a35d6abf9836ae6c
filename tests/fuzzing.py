"""What the fuzz tests share: the seed, the budget and the report.

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
