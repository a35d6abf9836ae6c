"""Gradient checking: analytic gradients against central finite differences, in float64."""
import numpy as np


def _relative_error(a, n, eps):
    """The course convention |a − n| / max(eps, |a| + |n|), elementwise."""
    return np.abs(a - n) / np.maximum(eps, np.abs(a) + np.abs(n))


def gradcheck(net, loss_fn, x, y, eps=1e-6):
    """Max relative error per parameter (and "input") between backpropagation and central
    differences (J(w + eps) − J(w − eps))/(2 eps) of J = loss + λΣ‖W‖², on a float64 copy of
    `net` in its current mode. Dropout layers replay the same masks for every evaluation.
    Returns {name: max error}; the network itself is not changed."""
    net64 = net.copy("float64")
    core = net64._core
    x = np.array(x, dtype=np.float64)
    dropout = [layer._index for _, layer in net64.named_layers() if hasattr(layer, "mask")]
    rng = {i: core.rng_state(i) for i in dropout}

    def cost():
        for i, state in rng.items():
            core.set_rng_state(i, state)
        return net64.cost(x, y, loss_fn)

    cost()
    net64.zero_grad()
    analytic_dx = net64.backward()
    errors = {}
    for name, value, grad in net64.named_parameters():
        analytic = grad.copy()
        numeric = numerical_gradient(lambda: cost(), value, eps)
        errors[name] = float(np.max(_relative_error(analytic, numeric, eps), initial=0.0))
    numeric_dx = numerical_gradient(lambda: cost(), x, eps)
    errors["input"] = float(np.max(_relative_error(analytic_dx, numeric_dx, eps), initial=0.0))
    return errors


def numerical_gradient(f, x, eps=1e-6):
    """Central differences of a scalar function f() that reads the array x (changed in place and
    restored): ∂f/∂xᵢ ≈ (f(x + eps eᵢ) − f(x − eps eᵢ))/(2 eps)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)
    out = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        out[i] = (plus - minus) / (2 * eps)
    return grad
