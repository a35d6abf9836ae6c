"""The package-wide seed source: layers without an explicit seed draw theirs from here."""
import numpy as np

_source = np.random.default_rng()


def check_seed(seed, owner):
    """`seed` as an int, or None. The one check for every place that takes a seed (`owner` says
    which): a float would otherwise be truncated, a string fail inside int() and a negative
    number inside NumPy, with messages that do not name the seed."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{owner}: seed must be an int >= 0 or None, got {seed!r} "
                        f"({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{owner}: seed must be an int >= 0 or None, got {seed}")
    return int(seed)


def manual_seed(seed: int) -> None:
    """Seed every layer built from now on that has no seed of its own (like torch.manual_seed)."""
    global _source
    _source = np.random.default_rng(check_seed(seed, "manual_seed"))


def draw_seed():
    return int(_source.integers(0, 2**63 - 1))


def source_state():
    """The package-wide source's state: a failed build puts it back (set_source_state), so the
    networks built after it get the seeds they would have got without it."""
    return _source.bit_generator.state


def set_source_state(state):
    _source.bit_generator.state = state
