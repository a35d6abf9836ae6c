"""The result object every experiment returns: raw numbers plus the figures drawn from them."""
import json

import numpy as np


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())   # NaN/inf scalars too
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


class Figures(dict):
    """{suffix: matplotlib Figure}, shown in Jupyter as the figures themselves, each once."""

    def _ipython_display_(self):
        from IPython.display import display
        for fig in self.values():
            display(fig)


class Result:
    """name: the experiment's name; params: the arguments it ran with; stats: its numbers
    (nested dicts/lists/arrays, written to NAME.json); data: larger raw arrays kept in memory
    only (e.g. per-layer values for histograms). Subclasses implement figures()."""

    def __init__(self, name, params, stats, data=None):
        self.name, self.params, self.stats, self.data = name, params, stats, data or {}

    def figures(self):
        """{suffix: matplotlib Figure}; written as NAME_suffix.png."""
        raise NotImplementedError

    def plot(self):
        """Draw the experiment's figures; returns {suffix: Figure} (a dict that Jupyter shows as
        the figures)."""
        return Figures(self.figures())

    def to_json(self):
        return json.dumps(_jsonable({"name": self.name, "params": self.params,
                                     "stats": self.stats}), indent=1)

    def save(self, out_dir, dpi=90):
        """Write NAME.json and NAME_suffix.png for every figure into out_dir; returns the paths."""
        from pathlib import Path
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / f"{self.name}.json"]
        paths[0].write_text(self.to_json())
        import matplotlib.pyplot as plt
        for suffix, fig in self.figures().items():
            path = out / f"{self.name}_{suffix}.png"
            fig.savefig(path, dpi=dpi)
            plt.close(fig)
            paths.append(path)
        return paths

    def __repr__(self):
        return f"<{self.name} result: {', '.join(self.stats)}>"
