/* Compiles the file named by MLPC_TEMPLATE once for float and once for double.
 *
 * Inside a template, `real` is the element type, R(name) appends the dtype suffix, GEMM (GEMV,
 * GER) is the matching CBLAS product, and <tgmath.h> makes fabs, sqrt, log, exp ... pick the right precision.
 * One source for both dtypes means float64 gradient checks exercise the code float32 training runs. */
#include <tgmath.h>
#include "blas.h"
#include "simd.h"

#define real float
#define ureal uint32_t   /* the integers of real's width: its bits, its exponents */
#define sreal int32_t
#define R(name) name##_f32
#define GEMM MLPC_BLAS(cblas_sgemm)
#define GEMV MLPC_BLAS(cblas_sgemv)
#define GER MLPC_BLAS(cblas_sger)
#include MLPC_TEMPLATE
#undef real
#undef ureal
#undef sreal
#undef R
#undef GEMM
#undef GEMV
#undef GER

#define real double
#define ureal uint64_t
#define sreal int64_t
#define R(name) name##_f64
#define GEMM MLPC_BLAS(cblas_dgemm)
#define GEMV MLPC_BLAS(cblas_dgemv)
#define GER MLPC_BLAS(cblas_dger)
#include MLPC_TEMPLATE
#undef real
#undef ureal
#undef sreal
#undef R
#undef GEMM
#undef GEMV
#undef GER
