"""Run lecture experiments from the shell and write their figures and statistics.

    python -m mlpc.experiments NAME|all [--quick] [--seed S] [--out DIR] [--data PATH]
                                        [--set KEY=VALUE ...] [--dpi N]
    python -m mlpc.experiments --list

Each experiment writes DIR/NAME.json (parameters and statistics) and DIR/NAME_<suffix>.png (its
figures). --data is a dataset folder for the experiments that take one (batchnorm_cifar: a
CIFAR-10 folder). --set overrides one parameter of a single experiment (the value is read as a
Python literal when it is one: --set steps=500 --set "lrs=(0.1,)"). Figures are drawn with
matplotlib's non-interactive Agg backend.

A bad argument (an unknown or bad --set parameter, an --out that is not a writable folder, a
missing --data folder) ends with one line "mlpc.experiments NAME: error: ..." and exit status 2;
a run that fails (e.g. diverges) with one such line and status 1.
"""
import argparse
import ast
import importlib
import math
import os
import sys
import time
from pathlib import Path


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_sets(items):
    params = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        params[key.strip()] = _literal(value)
    return params


def _positive_number(text):
    """argparse type of --dpi."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _seed(text):
    """argparse type of --seed (NumPy's generators take no negative seeds)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, got {text!r}")
    return value


class _UsageError(Exception):
    """A bad command-line argument found by this module (not by argparse)."""


def _output_folder(out):
    """Check the --out folder before any run, so a bad one fails at once, not after the run; it
    is created only when the results are saved (a failed run leaves no empty folder)."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise _UsageError(f"--out {out!r} is a file, not a folder")
    existing = path
    while not existing.exists():              # the folder mkdir(parents=True) would create in
        existing = existing.parent
    if not existing.is_dir():
        raise _UsageError(f"--out {out!r}: cannot create the folder ({existing} is a file)")
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "the folder" if existing == path else f"the folder {existing}"
        raise _UsageError(f"--out {out!r}: {where} is not writable")
    return path


def _exit_status(exc):
    """The exit status for an error of a single experiment: 2 for a bad argument (a parameter,
    a --data path, --out), 1 for a run that failed (a ValueError from the core, a diverged
    run); None for anything else (a bug: shown with its traceback)."""
    from . import ParameterError
    if isinstance(exc, (ParameterError, _UsageError, FileNotFoundError, NotADirectoryError)):
        return 2
    if isinstance(exc, (ValueError, TypeError, FloatingPointError)):
        return 1
    return None


def _report(name, exc):
    """Print one line "mlpc.experiments NAME: error: ..." (without the experiment's own
    "NAME: " prefix repeated)."""
    text = str(exc)
    if text.startswith(f"{name}: "):
        text = text[len(name) + 2:]
    print(f"mlpc.experiments {name}: error: {text}", file=sys.stderr)


def _takes_data(name):
    from . import _MODULES
    module = importlib.import_module(f"mlpc.experiments.{_MODULES[name]}")
    return "data" in getattr(module, "DEFAULTS", {})


def save(result, out, dpi=None):
    """result.save(out), with figures at `dpi` when given; returns the paths."""
    return result.save(out) if dpi is None else result.save(out, dpi=dpi)


def main(argv=None):
    from . import EXPERIMENTS

    parser = argparse.ArgumentParser(
        prog="python -m mlpc.experiments",
        description="Run mlpc's lecture experiments; write NAME.json and NAME_*.png.")
    parser.add_argument("name", nargs="?", help=f"one of: {', '.join(EXPERIMENTS)}, or all")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds per run)")
    parser.add_argument("--seed", type=_seed, default=0)
    parser.add_argument("--out", default="figures", help="output folder (default: figures)")
    parser.add_argument("--data", default=None,
                        help="dataset folder for experiments that take one (CIFAR-10 for "
                             "batchnorm_cifar; without it the bundled Fashion-MNIST subset)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", dest="sets",
                        help="override a parameter of the experiment (repeatable)")
    parser.add_argument("--dpi", type=_positive_number, default=None,
                        help="resolution of the PNG files (default: Result.save's)")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    args = parser.parse_args(argv)

    if args.list:
        print("\n".join(EXPERIMENTS))
        return 0
    if args.name is None:
        parser.error("give an experiment name or 'all' (see --list)")
    if args.name != "all" and args.name not in EXPERIMENTS:
        parser.error(f"unknown experiment {args.name!r}; choose from {', '.join(EXPERIMENTS)}, "
                     f"all")
    try:
        params = _parse_sets(args.sets)
    except ValueError as e:
        parser.error(str(e))
    if params and args.name == "all":
        parser.error("--set applies to a single experiment, not to 'all'")
    for option in sorted({"quick", "seed"} & set(params)):
        parser.error(f"give {option} as --{option}, not --set {option}=...")

    try:
        _output_folder(args.out)
    except _UsageError as e:
        _report(args.name, e)
        return 2

    import matplotlib
    matplotlib.use("Agg")

    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    failed = []
    for name in names:
        kwargs = dict(params)
        try:
            if args.data is not None:
                if _takes_data(name):
                    kwargs["data"] = args.data
                elif args.name != "all":
                    parser.error(f"{name} takes no --data")
            start = time.perf_counter()
            result = EXPERIMENTS[name](quick=args.quick, seed=args.seed, **kwargs)
            paths = save(result, args.out, args.dpi)
        except Exception as exc:
            if args.name != "all":
                status = _exit_status(exc)
                if status is None:
                    raise
                _report(name, exc)
                return status
            failed.append(name)                       # keep going with 'all'
            print(f"{name}: FAILED ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        print(f"{name}: {time.perf_counter() - start:.1f} s, wrote "
              f"{', '.join(str(p) for p in paths)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
