/* Array conversion and views: every user array enters the core through mlpc_as_array. */
#include "wrapper.h"

static void shape_str(char *buf, size_t size, int ndim, const npy_intp *dims)
{
    size_t len = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i ? ", %ld" : "%ld", (long)dims[i]);
    if (len < size) snprintf(buf + len, size - len, ndim == 1 ? ",)" : ")");
}

/* the expected shape from dims, a free dimension (-1) shown as N */
static void expected_str(char *buf, size_t size, int ndim, const npy_intp *dims)
{
    size_t len = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && len < size; i++) {
        const char *sep = i ? ", " : "";
        len += dims[i] < 0 ? (size_t)snprintf(buf + len, size - len, "%sN", sep)
                           : (size_t)snprintf(buf + len, size - len, "%s%ld", sep, (long)dims[i]);
    }
    if (len < size) snprintf(buf + len, size - len, ndim == 1 ? ",)" : ")");
}

PyArrayObject *mlpc_array_as_is(PyObject *obj, int typenum, int ndim, const npy_intp *dims)
{
    if (!PyArray_CheckExact(obj)) return NULL;
    PyArrayObject *a = (PyArrayObject *)obj;
    if (PyArray_TYPE(a) != typenum || !PyArray_ISCARRAY_RO(a) || !PyArray_ISNOTSWAPPED(a) ||
        (ndim >= 0 && PyArray_NDIM(a) != ndim))
        return NULL;
    for (int i = 0; i < ndim; i++)
        if (dims[i] < 0 ? PyArray_DIM(a, i) == 0 || PyArray_DIM(a, i) > INT_MAX
                        : PyArray_DIM(a, i) != dims[i])
            return NULL;
    Py_INCREF(obj);
    return a;
}

/* The TypeError for an object NumPy cannot convert, with the reason NumPy was given: a torch
 * tensor that requires grad says to detach it, one of bfloat16 names its dtype. */
static void not_an_array(PyObject *obj, const char *what)
{
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyObject *reason = value ? PyObject_Str(value) : NULL;
    PyErr_Clear();   /* from PyObject_Str, if it failed */
    const char *name = Py_TYPE(obj)->tp_name;
    const char *hint = strcmp(name, "Tensor") == 0
        ? "; for a torch tensor pass t.detach().cpu().numpy() (t.float() first for bfloat16, "
          "which NumPy has no dtype for)" : "";
    if (reason && PyUnicode_GetLength(reason) > 0)
        PyErr_Format(PyExc_TypeError, "%s must be a numeric array-like, got %.100s (NumPy "
                     "cannot convert it: %.300U)%s", what, name, reason, hint);
    else
        PyErr_Format(PyExc_TypeError, "%s must be a numeric array-like, got %.100s%s", what,
                     name, hint);
    Py_XDECREF(reason);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
}

PyArrayObject *mlpc_as_array(PyObject *obj, int typenum, int ndim, const npy_intp *dims,
                             const char *what, const char *shape_doc)
{
    PyArrayObject *ready = mlpc_array_as_is(obj, typenum, ndim, dims);
    if (ready) return ready;
    PyArrayObject *raw = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!raw) {
        not_an_array(obj, what);
        return NULL;
    }
    char kind = PyArray_DESCR(raw)->kind;
    if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') {
        PyErr_Format(PyExc_TypeError, "%s must hold real numbers, got an array of dtype %R", what,
                     (PyObject *)PyArray_DESCR(raw));
        goto fail;
    }
    int ok = ndim < 0 || PyArray_NDIM(raw) == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = dims[i] < 0 ? PyArray_DIM(raw, i) > 0 : PyArray_DIM(raw, i) == dims[i];
    if (!ok) {   /* the shapes are spelled out only now, when they are needed */
        char given[128], expected[128];
        shape_str(given, sizeof given, PyArray_NDIM(raw), PyArray_DIMS(raw));
        if (!shape_doc) {
            expected_str(expected, sizeof expected, ndim, dims);
            shape_doc = expected;
        }
        PyErr_Format(PyExc_ValueError, "%s: expected shape %s, got %s%s", what, shape_doc, given,
                     PyArray_SIZE(raw) == 0 ? " (an empty batch)" : "");
        goto fail;
    }
    /* checked from the shape, before converting: a zero-stride view of 2^31 rows costs nothing
     * itself, but its copy would be many GiB that the core then refuses */
    for (int i = 0; i < ndim; i++)
        if (dims[i] < 0 && PyArray_DIM(raw, i) > INT_MAX) {
            char given[128];
            shape_str(given, sizeof given, PyArray_NDIM(raw), PyArray_DIMS(raw));
            PyErr_Format(PyExc_ValueError, "%s: at most %d rows (the matrix products take int "
                         "sizes), got %s", what, INT_MAX, given);
            goto fail;
        }
    /* FORCECAST: a float64 batch (or int labels as rows) into a float32 network is the
     * documented conversion, not an error; the kind check above already refused non-numbers */
    PyArrayObject *arr = (PyArrayObject *)PyArray_FROM_OTF((PyObject *)raw, typenum,
                                                           NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
    Py_DECREF(raw);
    return arr;
fail:
    Py_DECREF(raw);
    return NULL;
}

PyObject *mlpc_view(void *data, int typenum, int ndim, const npy_intp *dims, PyObject *base,
                    int writeable)
{
    PyObject *arr = PyArray_SimpleNewFromData(ndim, (npy_intp *)dims, typenum, data);
    if (!arr) return NULL;
    Py_INCREF(base);
    if (PyArray_SetBaseObject((PyArrayObject *)arr, base) < 0) {
        Py_DECREF(arr);
        return NULL;
    }
    if (!writeable) PyArray_CLEARFLAGS((PyArrayObject *)arr, NPY_ARRAY_WRITEABLE);
    return arr;
}

static void release_block(PyObject *capsule)
{
    mlpc_block_release(PyCapsule_GetPointer(capsule, "mlpc.block"));
}

PyObject *mlpc_block_view(mlpc_block *block, void *data, int typenum, int ndim,
                          const npy_intp *dims)
{
    PyObject *capsule = PyCapsule_New(block, "mlpc.block", release_block);
    if (!capsule) return NULL;
    mlpc_block_retain(block);
    PyObject *arr = mlpc_view(data, typenum, ndim, dims, capsule, 0);
    Py_DECREF(capsule);
    return arr;
}

PyObject *mlpc_raise(int rc, const char *context)
{
    PyObject *type = rc == MLPC_ENOMEM ? PyExc_MemoryError
                   : rc == MLPC_ESTATE ? PyExc_RuntimeError : PyExc_ValueError;
    PyErr_Format(type, "%s: %s", context, mlpc_strerror(rc));
    return NULL;
}

int mlpc_typenum(mlpc_dtype dtype) { return dtype == MLPC_FLOAT32 ? NPY_FLOAT32 : NPY_FLOAT64; }

/* Targets the loss can use: labels in [0, K); BCE targets in [0, 1]; softmax cross-entropy rows
 * that are distributions. The core would refuse a bad label only after a forward pass, and would
 * compute a meaningless (even negative) cost from the rest. */
static int targets_as_arrays(PyObject *obj, mlpc_loss loss, int typenum, npy_intp N,
                             npy_intp K, PyArrayObject **labels, PyArrayObject **rows);

static int check_labels(PyArrayObject *labels, npy_intp K)
{
    const int64_t *y = PyArray_DATA(labels);
    for (npy_intp n = 0; n < PyArray_SIZE(labels); n++)
        if (y[n] < 0 || y[n] >= K) {
            PyErr_Format(PyExc_ValueError, "targets: class labels must be in [0, %ld) for %ld "
                         "outputs, got %lld at row %ld", (long)K, (long)K, (long long)y[n],
                         (long)n);
            return -1;
        }
    return 0;
}

static double target_at(PyArrayObject *rows, npy_intp i)
{
    return PyArray_TYPE(rows) == NPY_FLOAT32 ? ((const float *)PyArray_DATA(rows))[i]
                                             : ((const double *)PyArray_DATA(rows))[i];
}

static int check_rows(PyArrayObject *rows, mlpc_loss loss, npy_intp N, npy_intp K)
{
    if (loss == MLPC_MSE) return 0;
    for (npy_intp n = 0; n < N; n++) {
        double sum = 0;
        for (npy_intp k = 0; k < K; k++) {
            double t = target_at(rows, n * K + k);
            if (!(t >= 0 && t <= 1)) {
                char value[32];   /* PyErr_Format has no %g */
                snprintf(value, sizeof value, "%g", t);
                PyErr_Format(PyExc_ValueError, "targets: %s targets must be in [0, 1], got %s at "
                             "(%ld, %ld)", loss == MLPC_BINARY_CROSS_ENTROPY ? "binary "
                             "cross-entropy" : "probability-row", value, (long)n, (long)k);
                return -1;
            }
            sum += t;
        }
        /* one-hot rows sum to 1 exactly, softmax outputs stored in float16 to about 1e-3; a
         * row that is no distribution at all (unnormalized scores, counts) is off by far more */
        if (loss == MLPC_SOFTMAX_CROSS_ENTROPY && fabs(sum - 1) > 1e-2) {
            char value[32];
            snprintf(value, sizeof value, "%g", sum);
            PyErr_Format(PyExc_ValueError, "targets: probability rows must sum to 1 (within "
                         "1%%), row %ld sums to %s", (long)n, value);
            return -1;
        }
    }
    return 0;
}

int mlpc_targets(PyObject *obj, mlpc_loss loss, int typenum, npy_intp N, npy_intp K,
                 PyArrayObject **labels, PyArrayObject **rows)
{
    if (targets_as_arrays(obj, loss, typenum, N, K, labels, rows) < 0) return -1;
    if ((*labels && check_labels(*labels, K) < 0) || (*rows && check_rows(*rows, loss, N, K) < 0)) {
        Py_CLEAR(*labels);
        Py_CLEAR(*rows);
        return -1;
    }
    return 0;
}

/* Float labels (a CSV column, a pandas float column) as int64, when every value is a whole
 * number in [0, K): the first one that is not is named with its row, and nothing is cast
 * before that check (casting 2.5 would truncate, casting 1e30 is undefined). */
static PyArrayObject *whole_float_labels(PyObject *obj, npy_intp N, npy_intp K, const char *doc)
{
    npy_intp dims[1] = {N};
    PyArrayObject *values = mlpc_as_array(obj, NPY_FLOAT64, 1, dims, "targets", doc);
    if (!values) return NULL;
    const double *y = PyArray_DATA(values);
    for (npy_intp n = 0; n < N; n++) {
        if (y[n] != floor(y[n]) || !(y[n] >= 0 && y[n] < (double)K)) {
            char value[32];   /* PyErr_Format has no %g */
            snprintf(value, sizeof value, "%g", y[n]);
            PyErr_Format(PyExc_ValueError, "targets: float class labels must be whole numbers "
                         "in [0, %ld) for %ld outputs, got %s at row %ld", (long)K, (long)K,
                         value, (long)n);
            Py_DECREF(values);
            return NULL;
        }
    }
    PyArrayObject *labels = (PyArrayObject *)PyArray_Cast(values, NPY_INT64);
    Py_DECREF(values);
    return labels;
}

static int targets_as_arrays(PyObject *obj, mlpc_loss loss, int typenum, npy_intp N, npy_intp K,
                             PyArrayObject **labels, PyArrayObject **rows)
{
    *labels = *rows = NULL;
    npy_intp dims[2] = {N, K};
    char doc[96];
    /* the common cases, already in the form the core reads: no probe, no message */
    if (loss == MLPC_SOFTMAX_CROSS_ENTROPY && (*labels = mlpc_array_as_is(obj, NPY_INT64, 1, dims)))
        return 0;
    if ((*rows = mlpc_array_as_is(obj, typenum, 2, dims))) return 0;
    PyArrayObject *probe = (PyArrayObject *)PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (!probe) return -1;
    int ndim = PyArray_NDIM(probe);
    int integral = PyArray_ISINTEGER(probe) || PyArray_ISBOOL(probe);
    int floating = PyArray_ISFLOAT(probe);
    npy_intp given_rows = ndim >= 1 ? PyArray_DIM(probe, 0) : 0;
    npy_intp columns = ndim == 2 ? PyArray_DIM(probe, 1) : 0;
    Py_DECREF(probe);
    if (loss == MLPC_SOFTMAX_CROSS_ENTROPY && ndim == 1) {
        snprintf(doc, sizeof doc, "(%ld,) class labels or (%ld, %ld) rows", (long)N, (long)N,
                 (long)K);
        if (floating) {
            *labels = whole_float_labels(obj, N, K, doc);
            return *labels ? 0 : -1;
        }
        if (!integral) {
            PyErr_SetString(PyExc_TypeError, "targets: class labels must be integers "
                                             "(or give one-hot/probability rows of shape (N, K))");
            return -1;
        }
        *labels = mlpc_as_array(obj, NPY_INT64, 1, dims, "targets", doc);
        return *labels ? 0 : -1;
    }
    if (loss == MLPC_SOFTMAX_CROSS_ENTROPY && ndim == 2 && columns == 1 && K > 1) {
        PyErr_Format(PyExc_ValueError, "targets: class labels must have shape (%ld,), got a "
                     "column of shape (%ld, 1) (y.ravel() gives the labels); rows of shape "
                     "(%ld, %ld) would be one-hot or probability targets", (long)N,
                     (long)given_rows, (long)N, (long)K);
        return -1;
    }
    if (ndim == 1 && K == 1) {   /* a single output: accept (N,) for (N, 1) */
        snprintf(doc, sizeof doc, "(%ld,) or (%ld, 1)", (long)N, (long)N);
        PyArrayObject *flat = mlpc_as_array(obj, typenum, 1, dims, "targets", doc);
        if (!flat) return -1;
        *rows = (PyArrayObject *)PyArray_Newshape(flat, &(PyArray_Dims){dims, 2}, NPY_CORDER);
        Py_DECREF(flat);
        return *rows ? 0 : -1;
    }
    snprintf(doc, sizeof doc, "(%ld, %ld)", (long)N, (long)K);
    *rows = mlpc_as_array(obj, typenum, 2, dims, "targets", doc);
    return *rows ? 0 : -1;
}

int mlpc_net_acquire(NetObject *self)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this network is in use by another thread; give each thread its own copy");
        return -1;
    }
    self->busy = 1;
    return 0;
}

void mlpc_net_release(NetObject *self) { self->busy = 0; }
