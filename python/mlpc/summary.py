"""net.summary(): the layers of a network as a table, like Keras's model.summary().

    >>> print(net.summary())
    layer  type    output shape  params  trainable
    ...
    Total params: 79,510 (310.6 KB as float32): all trainable

Rows are the layers that compute an output (net.named_layers(), and each Residual after its
block: its output is the sum x + block(x)). "params" counts a layer's parameter values, all of
which the optimizers update ("trainable"); batch normalization's running mean and variance are
values too but no optimizer touches them: they are counted apart as non-trainable.
"""
import html

from . import _registry
from .blocks import BatchNorm, Residual
from .network import layers_with_outputs

__all__ = ["Summary"]

_HEADER = ("layer", "type", "output shape", "params", "trainable")


class Summary:
    """rows: [(name, type, output shape, params, trainable)] ; total, trainable,
    non_trainable: counts of values; str() the text table, _repr_html_ the notebook's."""

    def __init__(self, net):
        owner = net._outer() or net
        owner._ensure_core()                     # an unbuilt network says why it has no shapes
        widths = owner._out_widths
        self.dtype = owner.dtype
        self.rows = []
        self.non_trainable = 0
        for name, layer, index in layers_with_outputs(net):
            if isinstance(layer, Residual):
                count = 0                       # its block's rows hold the parameters
            else:
                count = sum(value.size for _, value, _ in layer.named_parameters())
            if isinstance(layer, BatchNorm):
                self.non_trainable += layer.running_mean.size + layer.running_var.size
            kind = type(layer).__name__ + (" (x + block)" if isinstance(layer, Residual) else "")
            self.rows.append((name, kind, f"(N, {widths[index]})", count,
                              "yes" if count else "-"))
        self.trainable = sum(row[3] for row in self.rows)
        self.total = self.trainable + self.non_trainable

    def _totals(self):
        size = 4 if self.dtype == "float32" else 8
        kb = self.total * size / 1024
        lines = [f"Total params: {self.total:,} ({kb:,.1f} KB as {self.dtype})",
                 f"Trainable params: {self.trainable:,}",
                 f"Non-trainable params: {self.non_trainable:,}" +
                 (" (batch-norm running statistics)" if self.non_trainable else "")]
        return lines

    def __str__(self):
        cells = [_HEADER] + [(n, t, s, f"{c:,}", tr) for n, t, s, c, tr in self.rows]
        widths = [max(len(row[j]) for row in cells) for j in range(len(_HEADER))]
        right = (False, False, False, True, False)

        def line(row):
            return "  ".join(v.rjust(w) if r else v.ljust(w)
                             for v, w, r in zip(row, widths, right)).rstrip()

        rule = "-" * len(line(cells[0]))
        return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]] + [rule] +
                         self._totals())

    __repr__ = __str__

    def _repr_html_(self):
        head = "".join(f"<th>{h}</th>" for h in _HEADER)
        right = ' style="text-align:right"'
        body = "".join(
            "<tr>" + "".join(f"<td{right if j == 3 else ''}>"
                             f"{html.escape(format(v, ',') if j == 3 else str(v))}</td>"
                             for j, v in enumerate(row)) + "</tr>"
            for row in self.rows)
        foot = "<br>".join(html.escape(t) for t in self._totals())
        return (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                f'<p style="font-family: monospace">{foot}</p>')


_registry.Summary = Summary   # net.summary() (mlpc.network comes before this module)
