"""The command line: `mlpc train`, `mlpc evaluate`, `mlpc demo` (also `python -m mlpc`).

    mlpc demo
    mlpc train --data fashion-mnist --layers 784,100,10 --act relu --bn --dropout 0.2 \\
               --opt adam --lr 1e-3 --epochs 5 --batch-size 100 --seed 0 --out run/
    mlpc evaluate run/model.npz --data fashion-mnist

Run `mlpc COMMAND --help` for every option.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

DATA_HELP = ("dataset: 'fashion-mnist' (the subset bundled with mlpc: 6000 training and 1000 "
             "test images), 'fashion-mnist:PATH' or 'mnist:PATH' (folder of the four IDX "
             "files, .gz or not), 'cifar10:PATH' (folder of the python or binary batches)")

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 0.01}


class CLIError(Exception):
    """A user error: printed as 'mlpc: error: ...' with exit status 2."""


# -- data ------------------------------------------------------------------------------------------
def load_data(spec, validation=None, seed=0):
    """(train, val or None, test) pairs of (X, y) for a --data spec, unstandardized.
    validation: examples held out of the training set (None: 5000 for cifar10, else 0)."""
    from . import data
    name, _, path = spec.partition(":")
    name = name.strip().lower()
    if name not in ("fashion-mnist", "mnist", "cifar10"):
        raise CLIError(f"unknown dataset {spec!r}: {DATA_HELP}")
    if name != "fashion-mnist" and not path:
        raise CLIError(f"{name} needs the folder of its files: --data {name}:PATH")
    if name == "cifar10":
        n_val = 5000 if validation is None else validation
        train, val, test = data.load_cifar10(path, validation=n_val, standardize=False)
        return train, (val if n_val else None), test
    load = data.load_fashion_mnist if name == "fashion-mnist" else data.load_mnist
    train, test = load(path or None)
    n_val = validation or 0
    if n_val:
        train, val = data.train_val_split(*train, val_size=n_val, seed=seed, stratify=True)
        return train, val, test
    return train, None, test


def _standardize(mean, std, X, dtype):
    out = np.asarray(X, dtype=np.float64) - mean
    out /= std
    return out.astype(dtype)


# -- the network -----------------------------------------------------------------------------------
def parse_layers(text):
    try:
        widths = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise CLIError(f"--layers must be comma-separated ints like 784,100,10, got {text!r}") \
            from None
    if len(widths) < 2 or min(widths) < 1:
        raise CLIError(f"--layers needs at least an input and an output width >= 1, got {text!r}")
    return widths


def build_network(widths, act="relu", bn=False, dropout=0.0, dtype="float32", l2=0.0, seed=0):
    """Linear → [BatchNorm] → activation → [Dropout] for each hidden layer, then a Linear."""
    import mlpc
    if act not in mlpc.ACTIVATIONS:
        raise CLIError(f"unknown activation {act!r}; choose one of "
                       f"{', '.join(sorted(mlpc.ACTIVATIONS))}")
    layers = []
    for a, b in zip(widths[:-2], widths[1:-1]):
        layers.append(mlpc.Linear(a, b))
        if bn:
            layers.append(mlpc.BatchNorm(b))
        layers.append(mlpc.ACTIVATIONS[act]())
        if dropout:
            layers.append(mlpc.Dropout(dropout))
    layers.append(mlpc.Linear(widths[-2], widths[-1]))
    return mlpc.Sequential(*layers, dtype=dtype, l2=l2, seed=seed)


def build_optimizer(name, net, lr=None, momentum=None, weight_decay=0.0):
    import mlpc
    lr = DEFAULT_LR[name] if lr is None else lr
    if name == "sgd":
        return mlpc.SGD(net, lr, momentum=0.9 if momentum is None else momentum,
                        weight_decay=weight_decay)
    if name == "rmsprop":
        return mlpc.RMSProp(net, lr, momentum=momentum or 0.0, weight_decay=weight_decay)
    if momentum is not None:
        raise CLIError(f"--momentum applies to sgd and rmsprop, not {name}")
    if name == "adagrad":
        return mlpc.AdaGrad(net, lr, weight_decay=weight_decay)
    if name == "adam":
        return mlpc.Adam(net, lr, weight_decay=weight_decay)
    return mlpc.AdamW(net, lr, weight_decay=0.01 if weight_decay == 0 else weight_decay)


# -- commands --------------------------------------------------------------------------------------
def _say(args, text):
    if not args.quiet:
        print(text, flush=True)


def _save_plot(history, path):
    """Write the cost/accuracy curves; returns a note when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed: no plot (pip install matplotlib)"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = history.plot()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return None


def _check_writable(folder):
    """Create --out now and try a file in it, so that a folder that cannot be written is found
    before training rather than after it."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".mlpc-write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as e:
        raise CLIError(f"--out {folder}: cannot write there ({e.strerror or e})") from None


def cmd_train(args):
    import mlpc
    from . import data
    from .training import fit, evaluate, EarlyStopping
    from .serialize import save

    train, val, test = load_data(args.data, args.validation, args.seed)
    X_train, y_train = train
    dim = X_train.shape[1]
    num_classes = int(max(y_train.max(), test[1].max())) + 1
    widths = parse_layers(args.layers) if args.layers else [dim, 100, num_classes]
    if widths[0] != dim:
        raise CLIError(f"--layers starts with {widths[0]} but {args.data} has inputs of width "
                       f"{dim}")
    if widths[-1] != num_classes:   # more outputs would train classes that never occur
        raise CLIError(f"--layers ends with {widths[-1]} outputs but the data has {num_classes} "
                       f"classes: end it with {num_classes}")
    if args.patience is not None and val is None:
        raise CLIError("--patience needs a validation set: add --validation N")
    if args.out:
        _check_writable(args.out)
    dtype = args.dtype
    # standardize every input dimension with the training set's statistics
    scaler = data.Standardize().fit(X_train)
    mean, std = scaler.mean_, scaler.std_
    X_train = _standardize(mean, std, X_train, dtype)
    X_test = _standardize(mean, std, test[0], dtype)
    validation_data = None if val is None else (_standardize(mean, std, val[0], dtype), val[1])

    net = build_network(widths, args.act, args.bn, args.dropout, dtype, args.l2, args.seed)
    opt = build_optimizer(args.opt, net, args.lr, args.momentum, args.weight_decay)
    _say(args, f"data: {args.data}: {len(X_train)} training, "
               f"{0 if val is None else len(val[0])} validation, {len(X_test)} test examples")
    _say(args, "network: " + " -> ".join(str(w) for w in widths) +
         f" ({args.act}{', batch norm' if args.bn else ''}"
         f"{f', dropout {args.dropout}' if args.dropout else ''}; {net.num_params} parameters, "
         f"{dtype}); optimizer: {opt!r}")
    callbacks = []
    if args.patience is not None:
        callbacks.append(EarlyStopping("val_cost", patience=args.patience))
    start = time.perf_counter()
    history = fit(net, mlpc.SoftmaxCrossEntropy(), opt, X_train, y_train, epochs=args.epochs,
                  batch_size=args.batch_size, seed=args.seed, validation_data=validation_data,
                  callbacks=callbacks, progress=False if args.quiet else True)
    elapsed = time.perf_counter() - start
    costs = history["train_cost"] if len(history) else []
    if len(costs) > 1:
        _say(args, f"training cost fell from {costs[0]:.4f} to {costs[-1]:.4f} in "
                   f"{len(costs)} epochs ({elapsed:.1f} s)")
    test_cost, test_acc = evaluate(net, mlpc.SoftmaxCrossEntropy(), X_test, test[1])
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        model_path = os.path.join(args.out, "model.npz")
        save(net, model_path, optimizer=opt, extra={"input_mean": mean, "input_std": std})
        with open(os.path.join(args.out, "history.json"), "w") as f:
            json.dump({k: v.tolist() for k, v in history.as_dict().items()}, f)
        note = _save_plot(history, os.path.join(args.out, "curves.png"))
        _say(args, f"saved {model_path}, history.json" + (", curves.png" if note is None else "")
             + f" in {args.out}")
        if note:
            _say(args, "note: " + note)
    print(f"test cost {test_cost:.4f}  test accuracy {100 * test_acc:.2f}%", flush=True)
    return 0


def cmd_evaluate(args):
    import mlpc
    from .serialize import load, load_extra
    from .training import evaluate

    net = load(args.model)
    extra = load_extra(args.model)
    _, _, (X_test, y_test) = load_data(args.data, 0 if args.data.startswith("cifar10") else None)
    if X_test.shape[1] != net.in_features:
        raise CLIError(f"the model takes inputs of width {net.in_features}; {args.data} has "
                       f"{X_test.shape[1]}")
    if "input_mean" in extra and "input_std" in extra:
        X_test = _standardize(extra["input_mean"], extra["input_std"], X_test, net.dtype)
    cost, accuracy = evaluate(net, mlpc.SoftmaxCrossEntropy(), X_test, y_test,
                              batch_size=args.batch_size)
    print(f"test cost {cost:.4f}  test accuracy {100 * accuracy:.2f}%  "
          f"({len(X_test)} examples)", flush=True)
    return 0


def cmd_demo(args):
    args.data = "fashion-mnist"
    args.layers = "784,100,10"
    args.act, args.bn, args.dropout, args.opt = "relu", False, 0.0, "adam"
    args.lr, args.momentum, args.weight_decay, args.l2 = 1e-3, None, 0.0, 0.0
    args.batch_size, args.dtype, args.validation, args.patience = 100, "float32", None, None
    _say(args, "mlpc demo: a 784-100-10 ReLU network trained with Adam on the Fashion-MNIST "
               "subset bundled with mlpc")
    return cmd_train(args)


# -- parsing ---------------------------------------------------------------------------------------
def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text}")
    return value


def _nonnegative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an int >= 0, got {text}")
    return value


def _probability(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text}")
    return value


def _nonnegative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def make_parser():
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="mlpc",
        description="Train and evaluate multilayer perceptrons with mlpc's C core.",
        epilog="Examples:\n  mlpc demo\n  mlpc train --data fashion-mnist --layers 784,100,10 "
               "--epochs 5 --out run/\n  mlpc evaluate run/model.npz --data fashion-mnist",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"mlpc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(p):
        p.add_argument("--epochs", type=_positive_int, default=5,
                       help="passes over the training set (default 5)")
        p.add_argument("--seed", type=int, default=0,
                       help="seed of the weights, dropout masks and batch order (default 0)")
        p.add_argument("--out", metavar="DIR",
                       help="write model.npz (network + optimizer + input standardization), "
                            "history.json and curves.png (cost and accuracy) into DIR")
        p.add_argument("--quiet", action="store_true",
                       help="print only the final test result (no progress)")

    train = sub.add_parser(
        "train", help="train a network and report its test accuracy",
        description="Train an MLP with softmax cross-entropy on a dataset, showing progress "
                    "(a live bar on a terminal, one line per epoch otherwise), then print the "
                    "test cost and accuracy. Inputs are standardized with the training set's "
                    "mean and standard deviation per dimension. Hidden layers are Linear -> "
                    "[BatchNorm] -> activation -> [Dropout].")
    train.add_argument("--data", required=True, help=DATA_HELP)
    train.add_argument("--layers", metavar="W0,W1,...",
                       help="layer widths from input to output, e.g. 784,100,10 (default: "
                            "input width, 100, number of classes)")
    train.add_argument("--act", default="relu",
                       help="hidden activation: relu, tanh, sigmoid, leaky_relu, elu, selu, "
                            "gelu, silu, swish, softplus, softsign, prelu, identity, step "
                            "(default relu)")
    train.add_argument("--bn", action="store_true",
                       help="batch normalization after each hidden Linear")
    train.add_argument("--dropout", type=_probability, default=0.0, metavar="P",
                       help="dropout probability after each hidden activation (default 0)")
    train.add_argument("--opt", choices=OPTIMIZERS, default="adam",
                       help="optimizer (default adam)")
    train.add_argument("--lr", type=_positive_float,
                       help="learning rate (default: 0.01 for sgd and adagrad, 1e-3 otherwise)")
    train.add_argument("--momentum", type=_nonnegative_float,
                       help="momentum of sgd (default 0.9) and rmsprop (default 0)")
    train.add_argument("--weight-decay", type=_nonnegative_float, default=0.0,
                       help="weight decay of the optimizer (default 0; 0.01 for adamw)")
    train.add_argument("--l2", type=_nonnegative_float, default=0.0,
                       help="L2 penalty lambda * sum ||W||^2 added to the cost (default 0)")
    train.add_argument("--batch-size", type=_positive_int, default=100,
                       help="mini-batch size (default 100)")
    train.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                       help="precision of the network (default float32)")
    train.add_argument("--validation", type=_nonnegative_int, metavar="N",
                       help="hold out N training examples for validation, reported every "
                            "epoch (default: 5000 for cifar10, as in the lectures; 0 otherwise)")
    train.add_argument("--patience", type=_nonnegative_int, metavar="P",
                       help="early stopping: stop when the validation cost has not improved "
                            "for P epochs and keep the best epoch's weights (needs validation)")
    common(train)
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "evaluate", help="evaluate a saved model on a dataset's test set",
        description="Load MODEL (written by 'mlpc train --out' or net.save) and print its cost "
                    "and accuracy on the test set of --data, in eval mode. The input "
                    "standardization saved with the model is applied.")
    evaluate.add_argument("model", metavar="MODEL", help="a model .npz file")
    evaluate.add_argument("--data", required=True, help=DATA_HELP)
    evaluate.add_argument("--batch-size", type=_positive_int, default=1000,
                          help="evaluation batch size (default 1000)")
    evaluate.set_defaults(func=cmd_evaluate)

    demo = sub.add_parser(
        "demo", help="a quick training run on the bundled Fashion-MNIST subset",
        description="Train a 784-100-10 ReLU network with Adam (lr 1e-3, batches of 100) on "
                    "the Fashion-MNIST subset that ships with mlpc, showing the cost falling "
                    "epoch by epoch, then print the test accuracy. Takes a few seconds; needs "
                    "no download.")
    common(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    """Entry point of the `mlpc` console script and `python -m mlpc`; returns the exit status."""
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except CLIError as e:
        print(f"mlpc {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, TypeError, FloatingPointError) as e:
        # FloatingPointError: training diverged (fit names the step and restores the network)
        print(f"mlpc {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
