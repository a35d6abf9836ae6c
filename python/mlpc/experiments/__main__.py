"""Run lecture experiments from the shell and write their figures and statistics.

    python -m mlpc.experiments NAME|all [--quick] [--seed S] [--out DIR] [--data PATH]
                                        [--set KEY=VALUE ...] [--dpi N]
    python -m mlpc.experiments --list

Each experiment writes DIR/NAME.json (parameters and statistics) and DIR/NAME_<suffix>.png (its
figures). --data is a dataset folder for the experiments that take one (batchnorm_cifar: a
CIFAR-10 folder). --set overrides one parameter of a single experiment (the value is read as a
Python literal when it is one: --set steps=500 --set "lrs=(0.1,)"). Figures are drawn with
matplotlib's non-interactive Agg backend.
"""
import argparse
import ast
import importlib
import sys
import time


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
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        params[key.strip()] = _literal(value)
    return params


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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="figures", help="output folder (default: figures)")
    parser.add_argument("--data", default=None,
                        help="dataset folder for experiments that take one (CIFAR-10 for "
                             "batchnorm_cifar; without it the bundled Fashion-MNIST subset)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", dest="sets",
                        help="override a parameter of the experiment (repeatable)")
    parser.add_argument("--dpi", type=float, default=None,
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
    params = _parse_sets(args.sets)
    if params and args.name == "all":
        parser.error("--set applies to a single experiment, not to 'all'")

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
        except Exception as exc:                      # keep going with 'all'
            if args.name != "all":
                raise
            failed.append(name)
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
