"""The package-wide seed source: layers without an explicit seed draw theirs from here."""
import numpy as np

_source = np.random.default_rng()


def manual_seed(seed):
    """Seed every layer built from now on that has no seed of its own (like torch.manual_seed)."""
    global _source
    _source = np.random.default_rng(seed)


def draw_seed():
    return int(_source.integers(0, 2**63 - 1))
