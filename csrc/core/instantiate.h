/* Compiles the file named by MLPC_TEMPLATE once for float and once for double.
 *
 * Inside a template, `real` is the element type, R(name) appends the dtype suffix, GEMM is the
 * matching CBLAS product, and <tgmath.h> makes exp, log, tanh, erf ... pick the right precision.
 * One source for both dtypes means float64 gradient checks exercise the code float32 training runs. */
#include <tgmath.h>
#include "blas.h"

#define real float
#define R(name) name##_f32
#define GEMM MLPC_BLAS(cblas_sgemm)
#include MLPC_TEMPLATE
#undef real
#undef R
#undef GEMM

#define real double
#define R(name) name##_f64
#define GEMM MLPC_BLAS(cblas_dgemm)
#include MLPC_TEMPLATE
#undef real
#undef R
#undef GEMM
