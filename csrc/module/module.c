/* mlpc._core: the module, its free functions, and the registration of the types. */
#define MLPC_IMPORTS_ARRAY
#include "wrapper.h"
#include "../core/pool.h"

/* The pool's threads: the caller counts as one (csrc/core/pool.h). Waiting for a job another
 * Python thread runs needs no GIL. */
static PyObject *set_num_threads(PyObject *Py_UNUSED(m), PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (n < 1) {
        PyErr_Format(PyExc_ValueError, "the number of threads must be >= 1, got %ld", n);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    mlpc_pool_set_threads((size_t)n);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *get_num_threads(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(a))
{
    return PyLong_FromSize_t(mlpc_pool_threads());
}

static PyObject *default_num_threads(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(a))
{
    return PyLong_FromSize_t(mlpc_pool_default_threads());
}

static PyObject *init_weight(PyObject *Py_UNUSED(m), PyObject *args)
{
    int kind;
    Py_ssize_t rows, cols;
    double value;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "inndK", &kind, &rows, &cols, &value, &seed)) return NULL;
    if (rows < 1 || cols < 1 || kind < 0 || kind >= MLPC_NUM_INITS) {
        PyErr_Format(PyExc_ValueError, "init_weight: bad arguments (kind %d, shape (%zd, %zd))",
                     kind, rows, cols);
        return NULL;
    }
    npy_intp dims[2] = {rows, cols};
    PyObject *w = PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (!w) return NULL;
    mlpc_rng rng;
    mlpc_rng_seed(&rng, seed);
    double *data = PyArray_DATA((PyArrayObject *)w);
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = mlpc_init_fill(data, (size_t)rows, (size_t)cols, (mlpc_init)kind, value, &rng);
    Py_END_ALLOW_THREADS
    if (rc) {
        Py_DECREF(w);
        return mlpc_raise(rc, "init_weight");
    }
    return w;
}

/* float32 stays float32; everything else is computed in float64 */
static int float_type(PyObject *obj)
{
    return PyArray_Check(obj) && PyArray_TYPE((PyArrayObject *)obj) == NPY_FLOAT32 ? NPY_FLOAT32
                                                                                   : NPY_FLOAT64;
}

/* activation(kind, x, alpha) -> (f(x), f'(x)), elementwise over any shape */
static PyObject *activation(PyObject *Py_UNUSED(m), PyObject *args)
{
    int kind;
    PyObject *x_obj;
    double alpha;
    if (!PyArg_ParseTuple(args, "iOd", &kind, &x_obj, &alpha)) return NULL;
    if (kind < 0 || kind >= MLPC_NUM_ACTIVATIONS) {
        PyErr_Format(PyExc_ValueError, "unknown activation kind %d", kind);
        return NULL;
    }
    int tn = float_type(x_obj);
    PyArrayObject *x = mlpc_as_array(x_obj, tn, -1, NULL, "x", "any");
    if (!x) return NULL;
    PyObject *y = PyArray_NewLikeArray(x, NPY_CORDER, NULL, 0);
    PyObject *d = PyArray_NewLikeArray(x, NPY_CORDER, NULL, 0);
    PyObject *ones = PyArray_NewLikeArray(x, NPY_CORDER, NULL, 0);
    if (!y || !d || !ones) goto fail;
    size_t n = (size_t)PyArray_SIZE(x);
    void *xp = PyArray_DATA(x), *yp = PyArray_DATA((PyArrayObject *)y);
    void *dp = PyArray_DATA((PyArrayObject *)d), *op = PyArray_DATA((PyArrayObject *)ones);
    PyObject *one = PyLong_FromLong(1);
    int filled = one ? PyArray_FillWithScalar((PyArrayObject *)ones, one) : -1;
    Py_XDECREF(one);
    if (filled < 0) goto fail;
    Py_BEGIN_ALLOW_THREADS
    MLPC_BY_DTYPE(tn, mlpc_activation_forward, yp, xp, n, (mlpc_activation)kind, alpha);
    MLPC_BY_DTYPE(tn, mlpc_activation_backward, dp, NULL, op, xp, yp, n, (mlpc_activation)kind,
                  alpha);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    Py_DECREF(ones);
    return Py_BuildValue("NN", y, d);
fail:
    Py_DECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(d);
    Py_XDECREF(ones);
    return NULL;
}

/* loss(kind, scores, targets) -> (cost, ∂cost/∂scores) */
static PyObject *loss(PyObject *Py_UNUSED(m), PyObject *args)
{
    int kind;
    PyObject *s_obj, *t_obj;
    if (!PyArg_ParseTuple(args, "iOO", &kind, &s_obj, &t_obj)) return NULL;
    if (kind < MLPC_SOFTMAX_CROSS_ENTROPY || kind > MLPC_MSE) {
        PyErr_Format(PyExc_ValueError, "unknown loss kind %d", kind);
        return NULL;
    }
    int tn = float_type(s_obj);
    npy_intp dims[2] = {-1, -1};
    PyArrayObject *s = mlpc_as_array(s_obj, tn, 2, dims, "scores", "(N, K)");
    if (!s) return NULL;
    npy_intp N = PyArray_DIM(s, 0), K = PyArray_DIM(s, 1);
    PyArrayObject *labels, *rows;
    if (mlpc_targets(t_obj, (mlpc_loss)kind, tn, N, K, &labels, &rows) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    PyObject *grad = PyArray_SimpleNew(2, PyArray_DIMS(s), tn);
    double cost = 0;
    int rc = 0;
    if (!grad) goto fail;
    void *sp = PyArray_DATA(s), *gp = PyArray_DATA((PyArrayObject *)grad);
    const int64_t *lp = labels ? PyArray_DATA(labels) : NULL;
    void *tp = rows ? PyArray_DATA(rows) : NULL;
    size_t n = (size_t)N, k = (size_t)K;
    Py_BEGIN_ALLOW_THREADS
    if (kind == MLPC_SOFTMAX_CROSS_ENTROPY)
        rc = MLPC_BY_DTYPE(tn, mlpc_softmax_cross_entropy, &cost, gp, sp, lp, tp, n, k, n);
    else if (kind == MLPC_BINARY_CROSS_ENTROPY)
        MLPC_BY_DTYPE(tn, mlpc_binary_cross_entropy, &cost, gp, sp, tp, n, k, n);
    else
        MLPC_BY_DTYPE(tn, mlpc_mse, &cost, gp, sp, tp, n, k, n);
    Py_END_ALLOW_THREADS
    if (rc) {
        mlpc_raise(rc, "loss");
        goto fail;
    }
    Py_DECREF(s);
    Py_XDECREF(labels);
    Py_XDECREF(rows);
    return Py_BuildValue("dN", cost, grad);
fail:
    Py_DECREF(s);
    Py_XDECREF(labels);
    Py_XDECREF(rows);
    Py_XDECREF(grad);
    return NULL;
}

static PyObject *softmax(PyObject *Py_UNUSED(m), PyObject *s_obj)
{
    int tn = float_type(s_obj);
    npy_intp dims[2] = {-1, -1};
    PyArrayObject *s = mlpc_as_array(s_obj, tn, 2, dims, "scores", "(N, K)");
    if (!s) return NULL;
    PyObject *p = PyArray_SimpleNew(2, PyArray_DIMS(s), tn);
    if (p) {
        size_t N = (size_t)PyArray_DIM(s, 0), K = (size_t)PyArray_DIM(s, 1);
        void *sp = PyArray_DATA(s), *pp = PyArray_DATA((PyArrayObject *)p);
        Py_BEGIN_ALLOW_THREADS
        MLPC_BY_DTYPE(tn, mlpc_softmax, pp, sp, N, K);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(s);
    return p;
}

/* moments(x, bins=0, lo=0, hi=0, saturation=0.99) -> ((mean, std, zero_fraction, norm, min, max,
 * saturation_fraction), counts (bins + 2: under, bins, over) or None) */
static PyObject *moments(PyObject *Py_UNUSED(m), PyObject *args)
{
    PyObject *x_obj;
    Py_ssize_t bins = 0;
    double lo = 0, hi = 0, saturation = 0.99;
    if (!PyArg_ParseTuple(args, "O|nddd", &x_obj, &bins, &lo, &hi, &saturation)) return NULL;
    if (bins < 0 || bins > INT32_MAX - 3 || (bins > 0 && !(hi > lo && isfinite(hi - lo)))) {
        char msg[160];   /* PyErr_Format has no %g */
        snprintf(msg, sizeof msg, "moments: need bins >= 0 and finite lo < hi, got %zd, %g, %g",
                 bins, lo, hi);
        PyErr_SetString(PyExc_ValueError, msg);
        return NULL;
    }
    if (isnan(saturation)) {
        PyErr_SetString(PyExc_ValueError, "moments: saturation must be a number, got nan");
        return NULL;
    }
    int tn = float_type(x_obj);
    PyArrayObject *x = mlpc_as_array(x_obj, tn, -1, NULL, "x", "any");
    if (!x) return NULL;
    PyObject *counts = NULL;
    if (bins > 0) {
        npy_intp cd[1] = {bins + 2};
        counts = PyArray_ZEROS(1, cd, NPY_INT64, 0);
        if (!counts) { Py_DECREF(x); return NULL; }
    }
    double st[MLPC_STATS];
    size_t n = (size_t)PyArray_SIZE(x);
    void *xp = PyArray_DATA(x);
    Py_BEGIN_ALLOW_THREADS
    MLPC_BY_DTYPE(tn, mlpc_moments, st, xp, n, saturation);
    if (counts)
        MLPC_BY_DTYPE(tn, mlpc_histogram, PyArray_DATA((PyArrayObject *)counts), xp, n,
                      (size_t)bins, lo, hi);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    if (!counts) { Py_INCREF(Py_None); counts = Py_None; }
    return Py_BuildValue("(ddddddd)N", st[0], st[1], st[2], st[3], st[4], st[5], st[6], counts);
}

/* crc32c(data) -> int: CRC-32C of a bytes-like object (TensorBoard's record checksums) */
static PyObject *crc32c(PyObject *Py_UNUSED(m), PyObject *obj)
{
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) return NULL;
    uint32_t crc = mlpc_crc32c(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(crc);
}

static PyMethodDef module_methods[] = {
    {"set_num_threads", set_num_threads, METH_O, "set the number of threads of mlpc's pool"},
    {"get_num_threads", get_num_threads, METH_NOARGS, "the number of threads of mlpc's pool"},
    {"default_num_threads", default_num_threads, METH_NOARGS,
     "the CPUs this process may run on (its affinity mask)"},
    {"init_weight", init_weight, METH_VARARGS,
     "init_weight(kind, rows, cols, value, seed) -> float64 (rows, cols)"},
    {"activation", activation, METH_VARARGS, "activation(kind, x, alpha) -> (f(x), f'(x))"},
    {"loss", loss, METH_VARARGS, "loss(kind, scores, targets) -> (cost, gradient)"},
    {"softmax", softmax, METH_O, "softmax(scores) -> probabilities, row by row"},
    {"crc32c", crc32c, METH_O, "crc32c(data) -> CRC-32C of a bytes-like object"},
    {"moments", moments, METH_VARARGS, "moments(x, bins, lo, hi, saturation) -> (stats, counts)"},
    {"line_costs", mlpc_line_costs, METH_VARARGS,
     "line_costs(net, X, targets, kind, tensor, start, index, value, steps) -> "
     "(base, costs, radius, crossed)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_core", "mlpc's C core: kernels, networks, optimizers.", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    import_array();
    mlpc_pool_threads();   /* sets OpenBLAS to one thread before any product runs */
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    /* the core's enums, so Python never repeats their numbering */
    static const struct { const char *name; int value; } constants[] = {
        {"ACT_IDENTITY", MLPC_IDENTITY}, {"ACT_STEP", MLPC_STEP}, {"ACT_SIGMOID", MLPC_SIGMOID},
        {"ACT_TANH", MLPC_TANH}, {"ACT_RELU", MLPC_RELU}, {"ACT_LEAKY_RELU", MLPC_LEAKY_RELU},
        {"ACT_ELU", MLPC_ELU}, {"ACT_SELU", MLPC_SELU}, {"ACT_GELU", MLPC_GELU},
        {"ACT_GELU_TANH", MLPC_GELU_TANH}, {"ACT_SOFTPLUS", MLPC_SOFTPLUS},
        {"ACT_SILU", MLPC_SILU}, {"ACT_SWISH", MLPC_SWISH}, {"ACT_SOFTSIGN", MLPC_SOFTSIGN},
        {"LAYER_LINEAR", MLPC_LAYER_LINEAR}, {"LAYER_ACTIVATION", MLPC_LAYER_ACTIVATION},
        {"LAYER_PRELU", MLPC_LAYER_PRELU}, {"LAYER_GATED", MLPC_LAYER_GATED},
        {"LAYER_BATCHNORM", MLPC_LAYER_BATCHNORM}, {"LAYER_LAYERNORM", MLPC_LAYER_LAYERNORM},
        {"LAYER_DROPOUT", MLPC_LAYER_DROPOUT}, {"LAYER_RESIDUAL", MLPC_LAYER_RESIDUAL},
        {"INIT_ZEROS", MLPC_INIT_ZEROS}, {"INIT_CONSTANT", MLPC_INIT_CONSTANT},
        {"INIT_NORMAL", MLPC_INIT_NORMAL}, {"INIT_UNIFORM", MLPC_INIT_UNIFORM},
        {"INIT_XAVIER_NORMAL", MLPC_INIT_XAVIER_NORMAL},
        {"INIT_XAVIER_UNIFORM", MLPC_INIT_XAVIER_UNIFORM},
        {"INIT_HE_NORMAL", MLPC_INIT_HE_NORMAL}, {"INIT_HE_UNIFORM", MLPC_INIT_HE_UNIFORM},
        {"INIT_LECUN_NORMAL", MLPC_INIT_LECUN_NORMAL},
        {"INIT_LECUN_UNIFORM", MLPC_INIT_LECUN_UNIFORM},
        {"INIT_ORTHOGONAL", MLPC_INIT_ORTHOGONAL},
        {"LOSS_SOFTMAX_CROSS_ENTROPY", MLPC_SOFTMAX_CROSS_ENTROPY},
        {"LOSS_BINARY_CROSS_ENTROPY", MLPC_BINARY_CROSS_ENTROPY}, {"LOSS_MSE", MLPC_MSE},
        {"OPT_SGD", MLPC_SGD}, {"OPT_ADAGRAD", MLPC_ADAGRAD}, {"OPT_RMSPROP", MLPC_RMSPROP},
        {"OPT_ADAM", MLPC_ADAM}, {"OPT_ADAMW", MLPC_ADAMW},
        {"FLOAT32", MLPC_FLOAT32}, {"FLOAT64", MLPC_FLOAT64},
        {"SOURCE_OUTPUT", MLPC_SOURCE_OUTPUT}, {"SOURCE_GRAD_OUTPUT", MLPC_SOURCE_GRAD_OUTPUT},
        {"SOURCE_PARAM", MLPC_SOURCE_PARAM}, {"SOURCE_GRAD", MLPC_SOURCE_GRAD},
        {"SOURCE_UPDATE", MLPC_SOURCE_UPDATE},
    };
    for (size_t i = 0; i < sizeof constants / sizeof *constants; i++)
        if (PyModule_AddIntConstant(m, constants[i].name, constants[i].value) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    if (mlpc_register_net(m) < 0 || mlpc_register_optimizer(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
