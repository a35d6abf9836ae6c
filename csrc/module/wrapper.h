/* Shared declarations of the CPython wrapper: array conversion, error mapping, the types. */
#ifndef MLPC_WRAPPER_H
#define MLPC_WRAPPER_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL mlpc_ARRAY_API
#ifndef MLPC_IMPORTS_ARRAY
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>
#include "../core/net.h"

/* Converts any array-like to a C-contiguous array of `typenum` with `ndim` dimensions, after
 * checking that it is numeric (TypeError) and of the expected shape (ValueError naming the
 * expected and the given shape). A dimension given as -1 may be anything but zero rows is an
 * error; ndim -1 takes any shape; `what` names the argument in messages, `shape_doc` the expected
 * shape, e.g. "(N, 784)" (NULL: spelled from dims, -1 as N). An array that is already what the
 * core reads is returned as it is (a new reference), with no message prepared. */
PyArrayObject *mlpc_as_array(PyObject *obj, int typenum, int ndim, const npy_intp *dims,
                             const char *what, const char *shape_doc);
/* obj itself (a new reference) when it is a C-contiguous, aligned, native array of typenum with
 * that shape; NULL, with no exception set, otherwise */
PyArrayObject *mlpc_array_as_is(PyObject *obj, int typenum, int ndim, const npy_intp *dims);
/* An array over memory the caller vouches for: base keeps that memory alive (a reference is
 * taken). Read-only unless writeable. */
PyObject *mlpc_view(void *data, int typenum, int ndim, const npy_intp *dims, PyObject *base,
                    int writeable);
/* A view into a reference-counted block of the core: the array holds a reference on the block. */
PyObject *mlpc_block_view(mlpc_block *block, void *data, int typenum, int ndim,
                          const npy_intp *dims);
/* Sets the Python exception for a core status code and returns NULL. */
PyObject *mlpc_raise(int rc, const char *context);
int mlpc_typenum(mlpc_dtype dtype);
/* Calls the float32 or the float64 kernel `fn` for an array of type number tn. */
#define MLPC_BY_DTYPE(tn, fn, ...) \
    ((tn) == NPY_FLOAT32 ? fn##_f32(__VA_ARGS__) : fn##_f64(__VA_ARGS__))

extern PyTypeObject *mlpc_NetType;
extern PyTypeObject *mlpc_OptimizerType;
int mlpc_register_net(PyObject *module);
int mlpc_register_optimizer(PyObject *module);

typedef struct {
    PyObject_HEAD
    mlpc_net *net;
    PyObject *input;     /* a private copy of the last forward's batch, which backward reads */
    int busy;            /* a call is running with the GIL released: refuse concurrent calls */
} NetObject;

/* Marks the network busy (RuntimeError if it already is); pair with net_release. */
int mlpc_net_acquire(NetObject *self);
void mlpc_net_release(NetObject *self);
/* Net.train_step's second half, in optim_type.c: reserves, runs mlpc_net_train_step with the
 * optimizer's state, and takes over the reference to x (read during the call only). */
PyObject *mlpc_optimizer_train_step(PyObject *opt, NetObject *net, PyArrayObject *x,
                                    mlpc_loss loss, PyArrayObject *labels, PyArrayObject *rows);
/* Converts targets for a loss: int labels (N,) for softmax cross-entropy, else rows (N, K). */
int mlpc_targets(PyObject *obj, mlpc_loss loss, int typenum, npy_intp N, npy_intp K,
                 PyArrayObject **labels, PyArrayObject **rows);
/* _core.line_costs, in gradcheck_call.c */
PyObject *mlpc_line_costs(PyObject *module, PyObject *args);
#endif
