/* _core.line_costs: the gradient check's perturbed costs (csrc/core/gradcheck.c) for Python. */
#include "wrapper.h"
#include "../core/gradcheck.h"

/* line_costs(net, X, targets, loss_kind, tensor, start, index, value, steps)
 *   -> (base, costs, radius, crossed), see mlpc_net_line_costs. X is copied (it is perturbed). */
PyObject *mlpc_line_costs(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *net_obj, *x_obj, *targets, *start_obj, *index_obj, *value_obj, *steps_obj;
    int kind;
    Py_ssize_t tensor;
    if (!PyArg_ParseTuple(args, "O!OOinOOOO", mlpc_NetType, &net_obj, &x_obj, &targets, &kind,
                          &tensor, &start_obj, &index_obj, &value_obj, &steps_obj))
        return NULL;
    NetObject *self = (NetObject *)net_obj;
    mlpc_net *net = self->net;
    PyArrayObject *x = NULL, *labels = NULL, *rows = NULL, *start = NULL, *index = NULL,
                  *value = NULL, *steps = NULL;
    PyObject *costs = NULL, *radius = NULL, *crossed = NULL;
    if (!net) {
        PyErr_SetString(PyExc_RuntimeError, "Net is not initialized");
        return NULL;
    }
    if (tensor < 0 || (size_t)tensor > net->ntensors) {
        PyErr_Format(PyExc_IndexError, "tensor %zd out of range: the network has %zu tensors "
                     "(%zu means the input)", tensor, net->ntensors, net->ntensors);
        return NULL;
    }
    npy_intp xdims[2] = {-1, (npy_intp)net->layers[0].in}, any[2] = {-1, -1};
    PyArrayObject *converted = mlpc_as_array(x_obj, mlpc_typenum(net->dtype), 2, xdims, "input",
                                             "(N, in_features)");
    if (!converted) goto fail;
    x = (PyArrayObject *)PyArray_NewCopy(converted, NPY_CORDER);   /* perturbed in place */
    Py_DECREF(converted);
    if (!x || mlpc_targets(targets, (mlpc_loss)kind, mlpc_typenum(net->dtype), PyArray_DIM(x, 0),
                           (npy_intp)net->layers[net->nlayers - 1].out, &labels, &rows) < 0)
        goto fail;
    start = mlpc_as_array(start_obj, NPY_UINTP, 1, any, "start", "(directions + 1,)");
    index = start ? mlpc_as_array(index_obj, NPY_UINTP, 1, any, "index", "(entries,)") : NULL;
    value = index ? mlpc_as_array(value_obj, NPY_FLOAT64, 1, any, "value", "(entries,)") : NULL;
    steps = value ? mlpc_as_array(steps_obj, NPY_FLOAT64, 2, any, "steps",
                                  "(directions, steps)") : NULL;
    if (!steps) goto fail;
    npy_intp ndirs = PyArray_DIM(start, 0) - 1, nsteps = PyArray_DIM(steps, 1);
    const size_t *st = PyArray_DATA(start);
    if (ndirs < 1 || PyArray_DIM(steps, 0) != ndirs || st[ndirs] != (size_t)PyArray_DIM(index, 0) ||
        PyArray_DIM(value, 0) != PyArray_DIM(index, 0)) {
        PyErr_SetString(PyExc_ValueError, "line_costs: start must run from 0 to len(index) == "
                        "len(value), and steps must have one row per direction");
        goto fail;
    }
    size_t N = (size_t)PyArray_DIM(x, 0), nnz = (size_t)PyArray_DIM(index, 0);
    size_t size = (size_t)tensor == net->ntensors ? N * net->layers[0].in
                                                  : net->tensors[tensor].size;
    const size_t *ix = PyArray_DATA(index);
    for (npy_intp d = 0; d < ndirs; d++)
        if (st[d + 1] < st[d]) {
            PyErr_Format(PyExc_ValueError, "line_costs: start must not decrease, got %zu after "
                         "%zu", st[d + 1], st[d]);
            goto fail;
        }
    for (size_t j = 0; j < nnz; j++)
        if (ix[j] >= size) {
            PyErr_Format(PyExc_ValueError, "line_costs: index %zu out of range for a tensor of "
                         "%zu entries", ix[j], size);
            goto fail;
        }
    npy_intp odims[2] = {ndirs, nsteps};
    costs = PyArray_SimpleNew(2, odims, NPY_FLOAT64);
    radius = PyArray_SimpleNew(2, odims, NPY_FLOAT64);
    crossed = PyArray_SimpleNew(2, odims, NPY_UINT8);
    if (!costs || !radius || !crossed) goto fail;
    double base = 0;
    if (mlpc_net_acquire(self) < 0) goto fail;
    int rc = mlpc_net_reserve(net, N);
    if (!rc) {
        Py_INCREF(x);
        Py_XSETREF(self->input, (PyObject *)x);   /* the core reads it until backward */
        Py_BEGIN_ALLOW_THREADS
        rc = mlpc_net_line_costs(net, PyArray_DATA(x), N, (mlpc_loss)kind,
                                 labels ? PyArray_DATA(labels) : NULL,
                                 rows ? PyArray_DATA(rows) : NULL, (size_t)tensor, st,
                                 (size_t)ndirs, ix, PyArray_DATA(value),
                                 PyArray_DATA(steps), (size_t)nsteps, &base,
                                 PyArray_DATA((PyArrayObject *)costs),
                                 PyArray_DATA((PyArrayObject *)radius),
                                 PyArray_DATA((PyArrayObject *)crossed));
        Py_END_ALLOW_THREADS
    }
    mlpc_net_release(self);
    if (rc) {
        mlpc_raise(rc, "line_costs");
        goto fail;
    }
    PyObject *result = Py_BuildValue("dNNN", base, costs, radius, crossed);
    costs = radius = crossed = NULL;
    Py_XDECREF(x); Py_XDECREF(labels); Py_XDECREF(rows); Py_XDECREF(start); Py_XDECREF(index);
    Py_XDECREF(value); Py_XDECREF(steps);
    return result;
fail:
    Py_XDECREF(x); Py_XDECREF(labels); Py_XDECREF(rows); Py_XDECREF(start); Py_XDECREF(index);
    Py_XDECREF(value); Py_XDECREF(steps);
    Py_XDECREF(costs); Py_XDECREF(radius); Py_XDECREF(crossed);
    return NULL;
}
