"""The one check of an argument that must be one of a few strings.

`x not in ("eval", "steps")` is no check for a value the user gave: a NumPy array compares
elementwise, so `if` on the result raises NumPy's "truth value of an array is ambiguous"
(naming nothing) or accepts np.array(["eval"]) as "eval"; a list or an array as the key of a
dict lookup raises "unhashable type". Strings are checked as strings first, here.
"""
from typing import Collection, Mapping, Optional, Tuple


def listing(allowed: Collection[str]) -> str:
    """'a', 'b' or 'c' (the package's way of naming a few allowed strings)."""
    names = [repr(a) for a in allowed]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def check_choice(name: str, value: object, allowed: Collection[str],
                 what: Optional[str] = None) -> str:
    """`value` (as a plain str) when it is one of the strings `allowed`. TypeError when it is
    not a string at all (an array, a list, None, a number), ValueError when it is another
    string; both say "<name> must be <what>, got ...". `what` defaults to listing(allowed)."""
    what = listing(allowed) if what is None else what
    if not isinstance(value, str):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__} {value!r:.60}")
    if value not in allowed:
        raise ValueError(f"{name} must be {what}, got {str(value)!r}")
    return str(value)


def check_choices(name: str, value: object, allowed: Collection[str], what: str,
                  groups: Mapping[str, Tuple[str, ...]]) -> Tuple[str, ...]:
    """One choice, a group's name (`groups` maps it to its choices), or a sequence of choices,
    as a tuple of plain strs: TypeError for something that is none of these (None, a number),
    check_choice's errors for an element."""
    if isinstance(value, str):
        value = groups.get(value, (value,))
    elif not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__} {value!r:.60}")
    return tuple(check_choice(name, v, allowed, what) for v in value)
