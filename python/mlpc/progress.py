"""A small built-in progress bar for training loops (no dependency).

    bar = ProgressBar(total=6000, prefix="epoch 1/5")
    bar.update(100, cost=0.53)            # redraws at most ~10 times a second
    bar.close(cost=0.41, accuracy=0.86)   # final line for this epoch, ends with a newline

Where it draws (`where(stream)`):
  "notebook"  inside a Jupyter kernel (ipykernel running a cell): a display output of its own,
              an HTML <progress> bar with the text beside it (text/plain for other front ends),
              updated in place through an IPython display handle, one output per bar;
  "terminal"  when the stream (default sys.stderr) is a terminal: one line redrawn in place
              with "\\r", ended by a newline at close();
  "lines"     anything else (a pipe, a log file): nothing while running, one line per close(),
              so logs stay readable.
Whether to draw at all is the caller's choice (fit's progress=False).
"""
import html
import sys
import time

from ._choices import check_choice

__all__ = ["ProgressBar", "enabled", "where", "format_rate", "format_metrics"]


def _is_tty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):   # no isatty, or a closed stream
        return False


def _in_notebook():
    """True inside a Jupyter kernel: IPython's shell there has a kernel (a terminal IPython,
    or plain Python that merely imported IPython, has none)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def where(stream=None):
    """"notebook", "terminal" or "lines": how a bar on `stream` (default sys.stderr) draws."""
    if stream is None and _in_notebook():
        return "notebook"
    return "terminal" if _is_tty(sys.stderr if stream is None else stream) else "lines"


def enabled(progress):
    """fit's progress argument: None (default) and True draw, False does not."""
    if progress is None:
        return True
    if isinstance(progress, str) or progress not in (0, 1):    # bools (NumPy's too), 0 and 1
        raise TypeError(f"progress must be None, True or False, got {progress!r}")
    return bool(progress)


def format_rate(rate):
    """Examples per second, compactly: 950/s, 12.3k/s, 1.2M/s."""
    if rate >= 1e6:
        return f"{rate / 1e6:.1f}M/s"
    if rate >= 1e4:
        return f"{rate / 1e3:.1f}k/s"
    return f"{rate:.0f}/s"


_LABELS = {"cost": "cost", "accuracy": "acc", "train_cost": "cost", "train_accuracy": "acc",
           "val_cost": "val_cost", "val_accuracy": "val_acc"}


def format_metrics(metrics):
    """'cost 0.4123  acc 85.10%' from a dict; None values are skipped, accuracies in percent."""
    parts = []
    for key, value in metrics.items():
        if value is None:
            continue
        label = _LABELS.get(key, key)
        if key.endswith("accuracy"):
            parts.append(f"{label} {100.0 * value:.2f}%")
        else:
            parts.append(f"{label} {value:.4g}")
    return "  ".join(parts)


class ProgressBar:
    """A one-line progress bar on `stream` (default sys.stderr).

    total: the number of items (examples) of the run; prefix: text before the bar ("epoch 2/5");
    width: characters of the bar; interval: least seconds between redraws (terminal, notebook);
    mode: "notebook", "terminal" or "lines" (default: where(stream); tty=True means
    "terminal", tty=False "lines").
    `update(n, **metrics)` adds n items and shows the metrics (e.g. cost=0.5); `close(**metrics)`
    writes the final line with a newline. The speed shown is items per second since the start.
    """

    def __init__(self, total, prefix="", stream=None, width=24, interval=0.1, tty=None,
                 mode=None):
        self.total = max(int(total), 0)
        self.prefix = prefix
        if mode is None:
            mode = where(stream) if tty is None else ("terminal" if tty else "lines")
        self.mode = mode = check_choice("mode", mode, ("notebook", "terminal", "lines"))
        self.stream = sys.stderr if stream is None else stream
        self.width = int(width)
        self.interval = float(interval)
        self.tty = mode == "terminal"
        self._handle = None                # the notebook's display handle
        self.count = 0
        self.metrics = {}
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_len = 0
        self._end = None
        self.closed = False

    def stop_clock(self):
        """Freeze the speed shown (e.g. before an evaluation that is not part of the run)."""
        if self._end is None:
            self._end = time.perf_counter()

    def rate(self):
        elapsed = (time.perf_counter() if self._end is None else self._end) - self.start
        return self.count / elapsed if elapsed > 0 else 0.0

    def line(self):
        """The text of the bar as it stands."""
        frac = min(self.count / self.total, 1.0) if self.total else 1.0
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        digits = len(str(self.total))
        text = f"{self.prefix} [{bar}] {self.count:>{digits}}/{self.total}"
        metrics = format_metrics(self.metrics)
        if metrics:
            text += "  " + metrics
        return text + "  " + format_rate(self.rate())

    def update(self, n=1, **metrics):
        self.count += int(n)
        self.metrics.update(metrics)
        if self.mode != "lines":
            now = time.perf_counter()
            if now - self._last_draw >= self.interval or self.count >= self.total:
                self._last_draw = now
                self._draw(end="")

    def html(self):
        """The bar as HTML: a <progress> element and the line's text after the bar."""
        text = self.line()
        after = text.split("] ", 1)[-1]
        value = min(self.count, self.total) if self.total else 1
        return (f'<div style="font-family: monospace; white-space: pre">'
                f'{html.escape(self.prefix)} <progress value="{value}" '
                f'max="{self.total or 1}" style="width: 16em; vertical-align: middle">'
                f'</progress> {html.escape(after)}</div>')

    def _draw(self, end):
        if self.mode == "notebook":
            self._display()
            return
        text = self.line()
        pad = max(self._last_len - len(text), 0)
        try:
            self.stream.write(("\r" if self.tty else "") + text + " " * pad + end)
            self.stream.flush()
        except (ValueError, OSError):   # stream closed under us: progress is not worth a crash
            pass
        self._last_len = len(text)

    def _display(self):
        from IPython.display import display
        bundle = {"text/plain": self.line(), "text/html": self.html()}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def close(self, **metrics):
        """Write the final line (with these metrics) and a newline; later calls do nothing."""
        if self.closed:
            return
        self.metrics.update(metrics)
        self.closed = True
        self._draw(end="\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
