/* _core.Optimizer: an update rule's configuration and state buffers, bound to one network. */
#include <stddef.h>
#include "wrapper.h"
#include <structmember.h>

PyTypeObject *mlpc_OptimizerType;

typedef struct {
    PyObject_HEAD
    NetObject *net;
    PyArrayObject *state;   /* (k, P) of the network's dtype, owned here, updated in place */
    mlpc_optim_config cfg;
} OptimizerObject;

static int Optimizer_init(OptimizerObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"net", "kind", "lr", "momentum", "alpha", "beta1", "beta2", "eps",
                             "weight_decay", "nesterov", "amsgrad", "decay_all", "clip_norm",
                             "clip_value", NULL};
    mlpc_optim_config c = {0};
    PyObject *net;
    int kind;
    c.alpha = 0.99;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!id|ddddddpppdd", kwlist, mlpc_NetType, &net,
                                     &kind, &c.lr, &c.momentum, &c.alpha, &c.beta1, &c.beta2,
                                     &c.eps, &c.weight_decay, &c.nesterov, &c.amsgrad,
                                     &c.decay_all, &c.clip_norm, &c.clip_value))
        return -1;
    if (kind < MLPC_SGD || kind > MLPC_ADAMW) {
        PyErr_Format(PyExc_ValueError, "unknown optimizer kind %d", kind);
        return -1;
    }
    mlpc_net *n = ((NetObject *)net)->net;
    if (!n) {
        PyErr_SetString(PyExc_RuntimeError, "the network is not initialized");
        return -1;
    }
    c.kind = (mlpc_optimizer)kind;
    npy_intp dims[2] = {(npy_intp)mlpc_optim_state_count(c.kind), (npy_intp)n->nparams};
    PyArrayObject *state = (PyArrayObject *)PyArray_ZEROS(2, dims, mlpc_typenum(n->dtype), 0);
    if (!state) return -1;
    /* checked here, after the last Python code this call runs (argument conversion): replacing
     * the state or the network of a live optimizer would free memory a step() running in
     * another thread is updating */
    if (self->net) {
        Py_DECREF(state);
        PyErr_SetString(PyExc_RuntimeError, "Optimizer is already initialized");
        return -1;
    }
    Py_INCREF(net);
    self->net = (NetObject *)net;
    self->state = state;
    self->cfg = c;
    return 0;
}

static void Optimizer_dealloc(OptimizerObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(self->net);
    Py_XDECREF(self->state);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int ready(OptimizerObject *self)
{
    if (!self->net || !self->net->net) {
        PyErr_SetString(PyExc_RuntimeError, "Optimizer is not initialized");
        return 0;
    }
    return 1;
}

static PyObject *Optimizer_step(OptimizerObject *self, PyObject *Py_UNUSED(ignored))
{
    if (!ready(self) || mlpc_net_acquire(self->net) < 0) return NULL;
    mlpc_net *net = self->net->net;
    Py_BEGIN_ALLOW_THREADS
    mlpc_net_optim_step(net, PyArray_DATA(self->state), &self->cfg);
    Py_END_ALLOW_THREADS
    mlpc_net_release(self->net);
    Py_RETURN_NONE;
}

/* Called by Net.train_step: takes over the reference to x. x is read during this call only (no
 * user code runs in it), so the caller's own array serves without a copy; the network keeps
 * neither it nor a pointer to it (a later backward needs a forward pass of its own). */
PyObject *mlpc_optimizer_train_step(PyObject *opt, NetObject *netobj, PyArrayObject *x,
                                    mlpc_loss loss, PyArrayObject *labels, PyArrayObject *rows)
{
    OptimizerObject *self = (OptimizerObject *)opt;
    if (!ready(self)) { Py_DECREF(x); return NULL; }
    if (self->net != netobj) {
        Py_DECREF(x);
        PyErr_SetString(PyExc_ValueError, "the optimizer was built for another network");
        return NULL;
    }
    mlpc_net *net = netobj->net;
    size_t N = (size_t)PyArray_DIM(x, 0);
    if (mlpc_net_acquire(netobj) < 0) { Py_DECREF(x); return NULL; }   /* before reserve */
    int rc = mlpc_net_reserve(net, N);
    if (rc) {
        mlpc_net_release(netobj);
        Py_DECREF(x);
        return mlpc_raise(rc, "cannot hold this batch");
    }
    double cost = 0;
    void *state = PyArray_DATA(self->state);
    const int64_t *lab = labels ? PyArray_DATA(labels) : NULL;
    const void *tgt = rows ? PyArray_DATA(rows) : NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = mlpc_net_train_step(net, PyArray_DATA(x), N, loss, lab, tgt, state, &self->cfg, &cost);
    Py_END_ALLOW_THREADS
    mlpc_net_release(netobj);
    Py_DECREF(x);
    if (rc) return mlpc_raise(rc, "train_step");
    return PyFloat_FromDouble(cost);
}

#define CFG(field) offsetof(OptimizerObject, cfg) + offsetof(mlpc_optim_config, field)
static PyMemberDef Optimizer_members[] = {
    {"kind", T_INT, CFG(kind), READONLY, "the update rule"},
    {"lr", T_DOUBLE, CFG(lr), 0, "learning rate"},
    {"momentum", T_DOUBLE, CFG(momentum), 0, NULL},
    {"alpha", T_DOUBLE, CFG(alpha), 0, "RMSProp smoothing constant"},
    {"beta1", T_DOUBLE, CFG(beta1), 0, NULL},
    {"beta2", T_DOUBLE, CFG(beta2), 0, NULL},
    {"eps", T_DOUBLE, CFG(eps), 0, NULL},
    {"weight_decay", T_DOUBLE, CFG(weight_decay), 0, NULL},
    {"nesterov", T_INT, CFG(nesterov), 0, NULL},
    {"amsgrad", T_INT, CFG(amsgrad), 0, NULL},
    {"decay_all", T_INT, CFG(decay_all), 0, "weight decay on every tensor"},
    {"clip_norm", T_DOUBLE, CFG(clip_norm), 0, "> 0: clip the global gradient norm"},
    {"clip_value", T_DOUBLE, CFG(clip_value), 0, "> 0: clamp each gradient entry"},
    {"step_count", T_ULONGLONG, CFG(step), 0, "updates done so far"},
    {"last_grad_norm", T_DOUBLE, CFG(last_grad_norm), READONLY,
     "global gradient norm at the last step, before clipping"},
    {"state", T_OBJECT, offsetof(OptimizerObject, state), READONLY, "(k, P) state buffers"},
    {"net", T_OBJECT, offsetof(OptimizerObject, net), READONLY, "the network it updates"},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef Optimizer_methods[] = {
    {"step", (PyCFunction)Optimizer_step, METH_NOARGS, "one update from the current gradients"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Optimizer_slots[] = {
    {Py_tp_init, Optimizer_init},
    {Py_tp_dealloc, Optimizer_dealloc},
    {Py_tp_methods, Optimizer_methods},
    {Py_tp_members, Optimizer_members},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_doc, "Optimizer(net, kind, lr, ...): use mlpc.SGD, mlpc.Adam ... instead."},
    {0, NULL},
};

static PyType_Spec Optimizer_spec = {"mlpc._core.Optimizer", sizeof(OptimizerObject), 0,
                                     Py_TPFLAGS_DEFAULT, Optimizer_slots};

int mlpc_register_optimizer(PyObject *module)
{
    mlpc_OptimizerType = (PyTypeObject *)PyType_FromSpec(&Optimizer_spec);
    if (!mlpc_OptimizerType) return -1;
    Py_INCREF(mlpc_OptimizerType);
    return PyModule_AddObject(module, "Optimizer", (PyObject *)mlpc_OptimizerType) < 0 ? -1 : 0;
}
