/* _core.Net: the network type. Argument checks and conversions here, arithmetic in the core. */
#include "wrapper.h"

PyTypeObject *mlpc_NetType;

#define DISPATCH_NET(net, fn, ...) \
    ((net)->dtype == MLPC_FLOAT32 ? fn##_f32(__VA_ARGS__) : fn##_f64(__VA_ARGS__))

#define CORE_CALL(self, rc, call)                  \
    do {                                           \
        if (mlpc_net_acquire(self) < 0) goto fail; \
        Py_BEGIN_ALLOW_THREADS                     \
        rc = (call);                               \
        Py_END_ALLOW_THREADS                       \
        mlpc_net_release(self);                    \
    } while (0)

/* The spec value under key as a new reference (NULL, no error, when absent): converting it may
 * run its __index__ or __float__, which may change or empty the dict and so free a borrowed value. */
static PyObject *spec_value(PyObject *spec, const char *key)
{
    PyObject *v = PyDict_GetItemString(spec, key);
    Py_XINCREF(v);
    return v;
}

static int read_size(PyObject *spec, const char *key, size_t *out, int required)
{
    PyObject *v = spec_value(spec, key);
    if (!v) {
        if (required) PyErr_Format(PyExc_ValueError, "layer spec is missing '%s'", key);
        return required ? -1 : 0;
    }
    long long x = PyLong_AsLongLong(v);
    Py_DECREF(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (x < 0) {
        PyErr_Format(PyExc_ValueError, "layer spec '%s' must be >= 0, got %lld", key, x);
        return -1;
    }
    *out = (size_t)x;
    return 0;
}

static int read_double(PyObject *spec, const char *key, double *out)
{
    PyObject *v = spec_value(spec, key);
    if (!v) return 0;
    *out = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* A layer spec is a dict: kind, in, out and optional option, act, alpha, momentum, skip, seed. */
static int parse_spec(PyObject *spec, mlpc_layer *L)
{
    if (!PyDict_Check(spec)) {
        PyErr_SetString(PyExc_TypeError, "each layer spec must be a dict");
        return -1;
    }
    size_t kind = 0, act = 0, option = 0;
    memset(L, 0, sizeof *L);
    if (read_size(spec, "kind", &kind, 1) || read_size(spec, "in", &L->in, 1) ||
        read_size(spec, "out", &L->out, 1) || read_size(spec, "option", &option, 0) ||
        read_size(spec, "act", &act, 0) || read_size(spec, "skip", &L->skip, 0) ||
        read_double(spec, "alpha", &L->alpha) || read_double(spec, "momentum", &L->momentum))
        return -1;
    PyObject *seed = spec_value(spec, "seed");
    if (seed) {
        L->seed = PyLong_AsUnsignedLongLongMask(seed);
        Py_DECREF(seed);
        if (PyErr_Occurred()) return -1;
    }
    L->kind = (mlpc_layer_kind)kind;
    L->act = (mlpc_activation)act;
    L->option = (int)option;
    return 0;
}

static int Net_init(NetObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"dtype", "layers", NULL};
    int dtype;
    PyObject *list;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iO!", kwlist, &dtype, &PyList_Type, &list))
        return -1;
    if (self->net) {   /* arrays, optimizers and other threads hold on to the live network */
        PyErr_SetString(PyExc_RuntimeError, "Net is already initialized");
        return -1;
    }
    /* a tuple copy holds every spec dict: a spec value's __index__ may change the list */
    PyObject *specs = PyList_AsTuple(list);
    if (!specs) return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(specs);
    mlpc_layer *layers = n ? PyMem_Calloc((size_t)n, sizeof *layers) : NULL;
    mlpc_net *net = NULL;
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "a network needs at least one layer");
        goto fail;
    }
    if (!layers) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (parse_spec(PyTuple_GET_ITEM(specs, i), &layers[i]) < 0) goto fail;
    int rc = mlpc_net_create(&net, (mlpc_dtype)dtype, layers, (size_t)n);
    if (rc) {
        mlpc_raise(rc, "cannot build the network");
        goto fail;
    }
    /* parsing ran Python code (__index__), which may have initialized this object meanwhile */
    if (self->net) {
        PyErr_SetString(PyExc_RuntimeError, "Net is already initialized");
        mlpc_net_free(net);
        goto fail;
    }
    self->net = net;
    PyMem_Free(layers);
    Py_DECREF(specs);
    return 0;
fail:
    PyMem_Free(layers);
    Py_DECREF(specs);
    return -1;
}

static void Net_dealloc(NetObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    mlpc_net_free(self->net);
    Py_XDECREF(self->input);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static mlpc_net *get_net(NetObject *self)
{
    if (!self->net) PyErr_SetString(PyExc_RuntimeError, "Net is not initialized");
    return self->net;
}

static int check_layer_index(mlpc_net *net, Py_ssize_t l)
{
    if (l < 0 || (size_t)l >= net->nlayers) {
        PyErr_Format(PyExc_IndexError, "layer index %zd out of range for %zu layers", l,
                     net->nlayers);
        return -1;
    }
    return 0;
}

/* X converted for this network's input, or NULL with the exception set */
static PyArrayObject *input_array(mlpc_net *net, PyObject *x)
{
    npy_intp dims[2] = {-1, (npy_intp)net->layers[0].in};
    return mlpc_as_array(x, mlpc_typenum(net->dtype), 2, dims, "input", NULL);
}

/* A batch X with its targets, both converted and checked before anything runs: X (NULL with the
 * exception set) and, through labels/rows, the targets as mlpc_targets gives them. */
static PyArrayObject *batch(mlpc_net *net, PyObject *x_obj, PyObject *targets, int kind,
                            PyArrayObject **labels, PyArrayObject **rows)
{
    PyArrayObject *x = input_array(net, x_obj);
    if (x && mlpc_targets(targets, (mlpc_loss)kind, mlpc_typenum(net->dtype), PyArray_DIM(x, 0),
                          (npy_intp)net->layers[net->nlayers - 1].out, labels, rows) < 0)
        Py_CLEAR(x);
    return x;
}

/* Nobody else can see or change this array's memory: its only reference is ours and it owns its
 * data (a view's base, or a buffer it was made from, may be shared). */
static int is_private(PyArrayObject *arr)
{
    return Py_REFCNT(arr) == 1 && PyArray_CHKFLAGS(arr, NPY_ARRAY_OWNDATA) &&
           PyArray_ISWRITEABLE(arr);
}

/* The batch a separate forward pass keeps for backward, which runs after user code: a private
 * array, since the caller may change X in place or resize it (freeing its memory) between the
 * two calls. The rule: a conversion is already private; the caller's own array (or a view of
 * it) is copied, into the last kept batch when that is private and of the same shape.
 * Net.train_step needs no copy, as no user code runs inside it (see mlpc_net_train_step).
 * Steals the reference to arr; NULL with the exception set. */
static PyArrayObject *private_batch(NetObject *self, PyArrayObject *arr)
{
    if (is_private(arr)) return arr;
    PyArrayObject *kept = (PyArrayObject *)self->input;
    if (kept && is_private(kept) && PyArray_TYPE(kept) == PyArray_TYPE(arr) &&
        PyArray_DIM(kept, 0) == PyArray_DIM(arr, 0) && PyArray_DIM(kept, 1) == PyArray_DIM(arr, 1)) {
        memcpy(PyArray_DATA(kept), PyArray_DATA(arr), (size_t)PyArray_NBYTES(arr));
        Py_DECREF(arr);
        Py_INCREF(kept);
        return kept;
    }
    PyArrayObject *copy = (PyArrayObject *)PyArray_NewCopy(arr, NPY_CORDER);
    Py_DECREF(arr);
    return copy;
}

/* Reserves room, keeps a private copy of `arr` as the input (the core reads it until backward)
 * and runs the forward pass; steals the reference to arr. The network is marked busy before
 * reserve: growing the buffers, or replacing the input, under a call running in another thread
 * would free memory that call is reading. */
static int forward_batch(NetObject *self, mlpc_net *net, PyArrayObject *arr)
{
    size_t N = (size_t)PyArray_DIM(arr, 0);
    if (mlpc_net_acquire(self) < 0) {
        Py_DECREF(arr);
        return -1;
    }
    int rc = mlpc_net_reserve(net, N);
    if (rc) {
        mlpc_net_release(self);
        Py_DECREF(arr);
        mlpc_raise(rc, "cannot hold this batch");
        return -1;
    }
    arr = private_batch(self, arr);
    if (!arr) {
        mlpc_net_release(self);
        return -1;
    }
    Py_XSETREF(self->input, (PyObject *)arr);
    Py_BEGIN_ALLOW_THREADS
    rc = mlpc_net_forward(net, PyArray_DATA(arr), N);
    Py_END_ALLOW_THREADS
    mlpc_net_release(self);
    if (rc) mlpc_raise(rc, "forward");
    return rc ? -1 : 0;
}

/* forward(X) -> copy of the network's output */
static PyObject *Net_forward(NetObject *self, PyObject *x)
{
    mlpc_net *net = get_net(self);
    PyArrayObject *arr = net ? input_array(net, x) : NULL;
    if (!arr || forward_batch(self, net, arr) < 0) return NULL;
    size_t last = net->nlayers - 1;
    npy_intp odims[2] = {(npy_intp)net->N, (npy_intp)net->layers[last].out};
    PyObject *out = PyArray_SimpleNew(2, odims, mlpc_typenum(net->dtype));
    if (out) memcpy(PyArray_DATA((PyArrayObject *)out), mlpc_net_output(net, last),
                    (size_t)PyArray_NBYTES((PyArrayObject *)out));
    return out;
}

/* predict(X) -> int64 class labels of a forward pass (mlpc_predict_labels), no output copy */
static PyObject *Net_predict(NetObject *self, PyObject *x)
{
    mlpc_net *net = get_net(self);
    PyArrayObject *arr = net ? input_array(net, x) : NULL;
    if (!arr || forward_batch(self, net, arr) < 0) return NULL;
    size_t last = net->nlayers - 1;
    npy_intp dims[1] = {(npy_intp)net->N};
    PyObject *labels = PyArray_SimpleNew(1, dims, NPY_INT64);
    if (labels)
        DISPATCH_NET(net, mlpc_predict_labels, PyArray_DATA((PyArrayObject *)labels),
                     mlpc_net_output(net, last), net->N, net->layers[last].out);
    return labels;
}

/* cost(X, targets, loss_kind) -> loss + penalty of a forward pass of X; leaves the loss
 * gradient for backward(). The targets are checked before the forward pass, so bad ones leave
 * the running statistics and dropout generators as they were. */
static PyObject *Net_cost(NetObject *self, PyObject *args)
{
    PyObject *x_obj, *targets;
    int kind;
    if (!PyArg_ParseTuple(args, "OOi", &x_obj, &targets, &kind)) return NULL;
    mlpc_net *net = get_net(self);
    PyArrayObject *labels, *rows;
    PyArrayObject *x = net ? batch(net, x_obj, targets, kind, &labels, &rows) : NULL;
    if (!x) return NULL;
    double cost = 0;
    int rc = -1;
    if (forward_batch(self, net, x) == 0) {
        CORE_CALL(self, rc, mlpc_net_loss(net, (mlpc_loss)kind,
                                          labels ? PyArray_DATA(labels) : NULL,
                                          rows ? PyArray_DATA(rows) : NULL, &cost));
        if (rc) mlpc_raise(rc, "loss");
    }
fail:
    Py_XDECREF(labels);
    Py_XDECREF(rows);
    return rc ? NULL : PyFloat_FromDouble(cost + mlpc_net_penalty(net));
}

/* backward(dY, need_dx=True) -> copy of ∂J/∂X, or None */
static PyObject *Net_backward(NetObject *self, PyObject *args)
{
    PyObject *dy_obj = Py_None;
    int need_dx = 1;
    if (!PyArg_ParseTuple(args, "|Op", &dy_obj, &need_dx)) return NULL;
    mlpc_net *net = get_net(self);
    if (!net) return NULL;
    if (!net->forward_done) {
        PyErr_SetString(PyExc_RuntimeError, "backward needs a forward pass first");
        return NULL;
    }
    if (!net->input) {
        PyErr_SetString(PyExc_RuntimeError, "backward after train_step needs a forward pass "
                        "first (train_step already ran the backward pass of its batch)");
        return NULL;
    }
    if (dy_obj == Py_None && !net->loss_done) {
        PyErr_SetString(PyExc_RuntimeError, "backward() without an output gradient needs the loss "
                        "of the current batch first (net.cost / net.loss after the forward pass), "
                        "or give dY");
        return NULL;
    }
    PyArrayObject *dy = NULL;
    size_t last = net->nlayers - 1;
    if (dy_obj != Py_None) {
        npy_intp dims[2] = {(npy_intp)net->N, (npy_intp)net->layers[last].out};
        dy = mlpc_as_array(dy_obj, mlpc_typenum(net->dtype), 2, dims, "output gradient", NULL);
        if (!dy) return NULL;
    }
    int rc;
    CORE_CALL(self, rc, mlpc_net_backward(net, dy ? PyArray_DATA(dy) : NULL, need_dx));
    Py_XDECREF(dy);
    if (rc) return mlpc_raise(rc, "backward");
    if (!need_dx) Py_RETURN_NONE;
    npy_intp dims[2] = {(npy_intp)net->N, (npy_intp)net->layers[0].in};
    PyObject *dx = PyArray_SimpleNew(2, dims, mlpc_typenum(net->dtype));
    if (dx) memcpy(PyArray_DATA((PyArrayObject *)dx), mlpc_net_input_grad(net),
                   (size_t)PyArray_NBYTES((PyArrayObject *)dx));
    return dx;
fail:
    Py_XDECREF(dy);
    return NULL;
}

/* loss(kind, targets) -> cost of the last forward pass; leaves its gradient for backward() */
static PyObject *Net_loss(NetObject *self, PyObject *args)
{
    int kind;
    PyObject *targets;
    if (!PyArg_ParseTuple(args, "iO", &kind, &targets)) return NULL;
    mlpc_net *net = get_net(self);
    if (!net) return NULL;
    if (!net->forward_done) {
        PyErr_SetString(PyExc_RuntimeError, "the loss needs a forward pass first");
        return NULL;
    }
    PyArrayObject *labels, *rows;
    if (mlpc_targets(targets, (mlpc_loss)kind, mlpc_typenum(net->dtype), (npy_intp)net->N,
                     (npy_intp)net->layers[net->nlayers - 1].out, &labels, &rows) < 0)
        return NULL;
    double cost = 0;
    int rc;
    CORE_CALL(self, rc, mlpc_net_loss(net, (mlpc_loss)kind,
                                      labels ? PyArray_DATA(labels) : NULL,
                                      rows ? PyArray_DATA(rows) : NULL, &cost));
    Py_XDECREF(labels);
    Py_XDECREF(rows);
    if (rc) return mlpc_raise(rc, "loss");
    return PyFloat_FromDouble(cost);
fail:
    Py_XDECREF(labels);
    Py_XDECREF(rows);
    return NULL;
}

/* train_step(X, targets, loss_kind, optimizer) -> cost including the penalty */
static PyObject *Net_train_step(NetObject *self, PyObject *args)
{
    PyObject *x_obj, *targets, *opt;
    int kind;
    if (!PyArg_ParseTuple(args, "OOiO!", &x_obj, &targets, &kind, mlpc_OptimizerType, &opt))
        return NULL;
    mlpc_net *net = get_net(self);
    PyArrayObject *labels, *rows;
    PyArrayObject *x = net ? batch(net, x_obj, targets, kind, &labels, &rows) : NULL;
    if (!x) return NULL;
    PyObject *cost = mlpc_optimizer_train_step(opt, self, x, (mlpc_loss)kind, labels, rows);
    Py_XDECREF(labels);
    Py_XDECREF(rows);
    return cost;   /* the optimizer took over x */
}

static PyObject *Net_penalty(NetObject *self, PyObject *Py_UNUSED(ignored))
{
    mlpc_net *net = get_net(self);
    return net ? PyFloat_FromDouble(mlpc_net_penalty(net)) : NULL;
}

static PyObject *Net_zero_grad(NetObject *self, PyObject *Py_UNUSED(ignored))
{
    mlpc_net *net = get_net(self);
    if (!net || mlpc_net_acquire(self) < 0) return NULL;
    mlpc_net_zero_grad(net);
    mlpc_net_release(self);
    Py_RETURN_NONE;
}

static PyObject *Net_grad_norm(NetObject *self, PyObject *Py_UNUSED(ignored))
{
    mlpc_net *net = get_net(self);
    return net ? PyFloat_FromDouble(mlpc_net_grad_norm(net)) : NULL;
}

/* snapshot(which, ranges, bins, saturation=0.99, before=None) -> (stats (K, MLPC_STATS),
 * counts (H, bins + 2)): the recorder's statistics of K sources in one call. which: int64 (K, 2)
 * rows (kind, index) of mlpc_source_kind and a layer or tensor index; ranges: float64 (K, 2) rows
 * (lo, hi), a histogram for the H rows with lo < hi; before: the flat parameters before the step
 * (nparams,), read by UPDATE sources */
static PyObject *Net_snapshot(NetObject *self, PyObject *args)
{
    PyObject *which_obj, *ranges_obj, *before_obj = Py_None, *result = NULL, *stats = NULL,
             *counts = NULL;
    PyArrayObject *ranges = NULL, *before = NULL;
    mlpc_source *sources = NULL;
    Py_ssize_t bins;
    double saturation = 0.99;
    mlpc_net *net = get_net(self);
    if (!net || !PyArg_ParseTuple(args, "OOn|dO", &which_obj, &ranges_obj, &bins, &saturation,
                                  &before_obj))
        return NULL;
    npy_intp dims[2] = {-1, 2};
    PyArrayObject *which = mlpc_as_array(which_obj, NPY_INT64, 2, dims, "which", "(K, 2)");
    if (!which) return NULL;
    dims[0] = PyArray_DIM(which, 0);
    char doc[48];
    snprintf(doc, sizeof doc, "(%ld, 2), a row per source", (long)dims[0]);
    ranges = mlpc_as_array(ranges_obj, NPY_FLOAT64, 2, dims, "ranges", doc);
    if (!ranges) goto done;
    if (before_obj != Py_None) {
        npy_intp pd[1] = {(npy_intp)net->nparams};
        snprintf(doc, sizeof doc, "(%ld,), the flat parameters", (long)net->nparams);
        before = mlpc_as_array(before_obj, mlpc_typenum(net->dtype), 1, pd, "before", doc);
        if (!before) goto done;
    }
    if (isnan(saturation)) {
        PyErr_SetString(PyExc_ValueError, "snapshot: saturation must be a number, got nan");
        goto done;
    }
    sources = PyMem_Calloc((size_t)dims[0] ? (size_t)dims[0] : 1, sizeof *sources);
    if (!sources) {
        PyErr_NoMemory();
        goto done;
    }
    const int64_t *w = PyArray_DATA(which);
    const double *r = PyArray_DATA(ranges);
    npy_intp H = 0;
    for (npy_intp s = 0; s < dims[0]; s++) {
        if (w[2 * s] < 0 || w[2 * s + 1] < 0) {
            PyErr_Format(PyExc_ValueError, "snapshot: source %zd has a negative kind or index",
                         (Py_ssize_t)s);
            goto done;
        }
        sources[s] = (mlpc_source){(mlpc_source_kind)w[2 * s], (size_t)w[2 * s + 1], r[2 * s],
                                   r[2 * s + 1]};
        H += r[2 * s] < r[2 * s + 1];
    }
    if (bins < 0 || (H && (bins == 0 || bins > INT32_MAX - 3))) {
        PyErr_Format(PyExc_ValueError, "snapshot: bins must be in [1, 2^31 - 3), got %zd", bins);
        goto done;
    }
    npy_intp sd[2] = {dims[0], MLPC_STATS}, cd[2] = {H, bins + 2};
    stats = PyArray_SimpleNew(2, sd, NPY_FLOAT64);
    counts = PyArray_SimpleNew(2, cd, NPY_INT64);
    if (!stats || !counts) goto done;
    int rc;
    const void *before_data = before ? PyArray_DATA(before) : NULL;
    CORE_CALL(self, rc, mlpc_net_snapshot(net, sources, (size_t)dims[0], (size_t)bins,
                                          saturation, before_data,
                                          PyArray_DATA((PyArrayObject *)stats),
                                          PyArray_DATA((PyArrayObject *)counts)));
    if (rc) {
        mlpc_raise(rc, "snapshot: a source is out of range (or asks an update for a histogram)");
        goto done;
    }
    result = PyTuple_Pack(2, stats, counts);
fail:
done:
    PyMem_Free(sources);
    Py_DECREF(which);
    Py_XDECREF(ranges);
    Py_XDECREF(before);
    Py_XDECREF(stats);
    Py_XDECREF(counts);
    return result;
}

static PyObject *Net_tensors(NetObject *self, PyObject *Py_UNUSED(ignored))
{
    mlpc_net *net = get_net(self);
    if (!net) return NULL;
    PyObject *list = PyList_New((Py_ssize_t)net->ntensors);
    for (size_t t = 0; list && t < net->ntensors; t++) {
        const mlpc_tensor *T = &net->tensors[t];
        PyObject *item = Py_BuildValue("nnnO", (Py_ssize_t)T->layer, (Py_ssize_t)T->rows,
                                       (Py_ssize_t)T->cols, T->is_weight ? Py_True : Py_False);
        if (!item) { Py_CLEAR(list); break; }
        PyList_SET_ITEM(list, (Py_ssize_t)t, item);
    }
    return list;
}

/* a view of tensor t in the parameter or gradient block, shaped as the tensor */
static PyObject *tensor_view(NetObject *self, PyObject *arg, int grads)
{
    mlpc_net *net = get_net(self);
    if (!net) return NULL;
    Py_ssize_t t = PyLong_AsSsize_t(arg);
    if (t == -1 && PyErr_Occurred()) return NULL;
    if (t < 0 || (size_t)t >= net->ntensors) {
        PyErr_Format(PyExc_IndexError, "tensor index %zd out of range", t);
        return NULL;
    }
    const mlpc_tensor *T = &net->tensors[t];
    char *base = grads ? net->grads : net->params;
    npy_intp dims[2] = {(npy_intp)T->rows, (npy_intp)T->cols};
    /* a weight matrix stays 2-D even with one row (Linear(d, 1).weight is (1, d)) */
    int ndim = T->rows == 1 && !T->is_weight ? 1 : 2;
    return mlpc_view(base + T->offset * net->elsize, mlpc_typenum(net->dtype), ndim,
                     ndim == 1 ? dims + 1 : dims, (PyObject *)self, 1);
}

static PyObject *Net_param(NetObject *self, PyObject *arg) { return tensor_view(self, arg, 0); }
static PyObject *Net_grad(NetObject *self, PyObject *arg) { return tensor_view(self, arg, 1); }

/* the whole parameter / gradient block as one flat array (optimizers, clipping, state dicts) */
static PyObject *Net_flat(NetObject *self, PyObject *arg)
{
    mlpc_net *net = get_net(self);
    if (!net) return NULL;
    int grads = PyObject_IsTrue(arg);
    if (grads < 0) return NULL;
    npy_intp dims[1] = {(npy_intp)net->nparams};
    return mlpc_view(grads ? net->grads : net->params, mlpc_typenum(net->dtype), 1, dims,
                     (PyObject *)self, 1);
}

/* running_stats(layer) -> (running_mean, running_var) views of a batch-norm layer */
static PyObject *Net_running_stats(NetObject *self, PyObject *arg)
{
    mlpc_net *net = get_net(self);
    if (!net) return NULL;
    Py_ssize_t l = PyLong_AsSsize_t(arg);
    if ((l == -1 && PyErr_Occurred()) || check_layer_index(net, l) < 0) return NULL;
    const mlpc_layer *L = &net->layers[l];
    if (L->kind != MLPC_LAYER_BATCHNORM) {
        PyErr_SetString(PyExc_ValueError, "running statistics belong to batch-norm layers");
        return NULL;
    }
    npy_intp dims[1] = {(npy_intp)L->out};
    char *b = (char *)net->buffers + L->buffer * net->elsize;
    int tn = mlpc_typenum(net->dtype);
    PyObject *mean = mlpc_view(b, tn, 1, dims, (PyObject *)self, 1);
    PyObject *var = mlpc_view(b + L->out * net->elsize, tn, 1, dims, (PyObject *)self, 1);
    if (!mean || !var) {
        Py_XDECREF(mean);
        Py_XDECREF(var);
        return NULL;
    }
    return Py_BuildValue("NN", mean, var);
}

/* a read-only view of one layer's output / output gradient / dropout mask, for the current batch */
static PyObject *activation_view(NetObject *self, PyObject *arg, int which)
{
    mlpc_net *net = get_net(self);
    if (!net) return NULL;
    Py_ssize_t l = PyLong_AsSsize_t(arg);
    if ((l == -1 && PyErr_Occurred()) || check_layer_index(net, l) < 0) return NULL;
    if (!net->forward_done && which != 2) Py_RETURN_NONE;
    npy_intp dims[2] = {(npy_intp)net->N, (npy_intp)net->layers[l].out};
    int tn = mlpc_typenum(net->dtype);
    switch (which) {
    case 0: return mlpc_block_view(net->outputs, mlpc_net_output(net, (size_t)l), tn, 2, dims);
    case 1:
        if (!net->backward_done) Py_RETURN_NONE;
        return mlpc_block_view(net->doutputs, mlpc_net_grad_output(net, (size_t)l), tn, 2, dims);
    default:
        if (net->layers[l].kind != MLPC_LAYER_DROPOUT) {
            PyErr_SetString(PyExc_ValueError, "only dropout layers have a mask");
            return NULL;
        }
        /* the masks of the last training-mode forward, which an eval pass of another batch
           size leaves in place */
        if (!net->mask_N) Py_RETURN_NONE;
        dims[0] = (npy_intp)net->mask_N;
        return mlpc_block_view(net->cache, mlpc_net_cache(net, (size_t)l), tn, 2, dims);
    }
}

static PyObject *Net_output(NetObject *self, PyObject *arg) { return activation_view(self, arg, 0); }
static PyObject *Net_grad_output(NetObject *self, PyObject *arg) { return activation_view(self, arg, 1); }
static PyObject *Net_mask(NetObject *self, PyObject *arg) { return activation_view(self, arg, 2); }

/* rng_state(layer) -> 4 ints; set_rng_state(layer, state): a dropout layer's mask stream */
static PyObject *Net_rng_state(NetObject *self, PyObject *arg)
{
    mlpc_net *net = get_net(self);
    if (!net) return NULL;
    Py_ssize_t l = PyLong_AsSsize_t(arg);
    if ((l == -1 && PyErr_Occurred()) || check_layer_index(net, l) < 0) return NULL;
    const uint64_t *s = net->layers[l].rng.s;
    return Py_BuildValue("(KKKK)", (unsigned long long)s[0], (unsigned long long)s[1],
                         (unsigned long long)s[2], (unsigned long long)s[3]);
}

static PyObject *Net_set_rng_state(NetObject *self, PyObject *args)
{
    Py_ssize_t l;
    unsigned long long s[4];
    if (!PyArg_ParseTuple(args, "n(KKKK)", &l, &s[0], &s[1], &s[2], &s[3])) return NULL;
    mlpc_net *net = get_net(self);
    if (!net || check_layer_index(net, l) < 0) return NULL;
    if (!(s[0] | s[1] | s[2] | s[3])) {
        PyErr_SetString(PyExc_ValueError, "an all-zero generator state is invalid");
        return NULL;
    }
    if (mlpc_net_acquire(self) < 0) return NULL;
    for (int i = 0; i < 4; i++) net->layers[l].rng.s[i] = s[i];
    mlpc_net_release(self);
    Py_RETURN_NONE;
}

static PyObject *Net_get_training(NetObject *self, void *Py_UNUSED(c))
{
    mlpc_net *net = get_net(self);
    return net ? PyBool_FromLong(net->training) : NULL;
}

static int Net_set_training(NetObject *self, PyObject *v, void *Py_UNUSED(c))
{
    mlpc_net *net = get_net(self);
    int t = v ? PyObject_IsTrue(v) : -1;
    if (!net || t < 0 || mlpc_net_acquire(self) < 0) {
        if (!v) PyErr_SetString(PyExc_AttributeError, "cannot delete training");
        return -1;
    }
    net->training = t;
    /* caches of the other mode must not feed a backward pass */
    net->forward_done = net->backward_done = net->loss_done = 0;
    mlpc_net_release(self);
    return 0;
}

static PyObject *Net_get_l2(NetObject *self, void *Py_UNUSED(c))
{
    mlpc_net *net = get_net(self);
    return net ? PyFloat_FromDouble(net->l2) : NULL;
}

static int Net_set_l2(NetObject *self, PyObject *v, void *Py_UNUSED(c))
{
    mlpc_net *net = get_net(self);
    if (!net) return -1;
    double l2 = v ? PyFloat_AsDouble(v) : -1.0;
    if (l2 == -1.0 && PyErr_Occurred()) return -1;
    if (!(l2 >= 0) || !isfinite(l2)) {
        PyErr_Format(PyExc_ValueError, "l2 must be a finite number >= 0, got %R", v);
        return -1;
    }
    net->l2 = l2;
    return 0;
}

static PyObject *Net_get_batch(NetObject *self, void *Py_UNUSED(c))
{
    mlpc_net *net = get_net(self);
    return net ? PyLong_FromSize_t(net->forward_done ? net->N : 0) : NULL;
}

static PyObject *Net_get_nparams(NetObject *self, void *Py_UNUSED(c))
{
    mlpc_net *net = get_net(self);
    return net ? PyLong_FromSize_t(net->nparams) : NULL;
}

static PyObject *Net_get_dtype(NetObject *self, void *Py_UNUSED(c))
{
    mlpc_net *net = get_net(self);
    return net ? PyUnicode_FromString(net->dtype == MLPC_FLOAT32 ? "float32" : "float64") : NULL;
}

static PyMethodDef Net_methods[] = {
    {"forward", (PyCFunction)Net_forward, METH_O, "forward(X) -> output (a copy)"},
    {"predict", (PyCFunction)Net_predict, METH_O, "predict(X) -> int64 labels of forward(X)"},
    {"backward", (PyCFunction)Net_backward, METH_VARARGS,
     "backward(dY=None, need_dx=True) -> dX; dY None uses the gradient left by loss()"},
    {"loss", (PyCFunction)Net_loss, METH_VARARGS, "loss(kind, targets) -> cost"},
    {"cost", (PyCFunction)Net_cost, METH_VARARGS,
     "cost(X, targets, kind) -> loss + penalty of a forward pass of X"},
    {"train_step", (PyCFunction)Net_train_step, METH_VARARGS,
     "train_step(X, targets, loss_kind, optimizer) -> cost"},
    {"penalty", (PyCFunction)Net_penalty, METH_NOARGS, "l2 * sum of squared weights"},
    {"zero_grad", (PyCFunction)Net_zero_grad, METH_NOARGS, "zero every parameter gradient"},
    {"grad_norm", (PyCFunction)Net_grad_norm, METH_NOARGS, "global L2 norm of the gradients"},
    {"snapshot", (PyCFunction)Net_snapshot, METH_VARARGS,
     "snapshot(which, ranges, bins, saturation=0.99, before=None) -> (stats, counts)"},
    {"tensors", (PyCFunction)Net_tensors, METH_NOARGS, "[(layer, rows, cols, is_weight)]"},
    {"param", (PyCFunction)Net_param, METH_O, "param(t) -> writeable view of tensor t"},
    {"grad", (PyCFunction)Net_grad, METH_O, "grad(t) -> view of tensor t's gradient"},
    {"flat", (PyCFunction)Net_flat, METH_O, "flat(grads) -> the whole block as one view"},
    {"running_stats", (PyCFunction)Net_running_stats, METH_O, "(running_mean, running_var)"},
    {"output", (PyCFunction)Net_output, METH_O, "output(l) -> read-only view, or None"},
    {"grad_output", (PyCFunction)Net_grad_output, METH_O, "grad_output(l) -> read-only view"},
    {"mask", (PyCFunction)Net_mask, METH_O, "mask(l) -> a dropout layer's last mask"},
    {"rng_state", (PyCFunction)Net_rng_state, METH_O, "a dropout layer's generator state"},
    {"set_rng_state", (PyCFunction)Net_set_rng_state, METH_VARARGS, "restore a generator state"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Net_getset[] = {
    {"training", (getter)Net_get_training, (setter)Net_set_training, "training mode", NULL},
    {"l2", (getter)Net_get_l2, (setter)Net_set_l2, "L2 penalty weight", NULL},
    {"batch_size", (getter)Net_get_batch, NULL, "examples in the last forward pass", NULL},
    {"num_params", (getter)Net_get_nparams, NULL, "number of parameters", NULL},
    {"dtype", (getter)Net_get_dtype, NULL, "float32 or float64", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Net_slots[] = {
    {Py_tp_init, Net_init},
    {Py_tp_dealloc, Net_dealloc},
    {Py_tp_methods, Net_methods},
    {Py_tp_getset, Net_getset},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_doc, "Net(dtype, layer_specs): the C network; use mlpc.Sequential instead."},
    {0, NULL},
};

static PyType_Spec Net_spec = {"mlpc._core.Net", sizeof(NetObject), 0, Py_TPFLAGS_DEFAULT,
                               Net_slots};

int mlpc_register_net(PyObject *module)
{
    mlpc_NetType = (PyTypeObject *)PyType_FromSpec(&Net_spec);
    if (!mlpc_NetType) return -1;
    Py_INCREF(mlpc_NetType);
    return PyModule_AddObject(module, "Net", (PyObject *)mlpc_NetType) < 0 ? -1 : 0;
}
