/* CBLAS, with or without a symbol prefix.
 *
 * The default build links the OpenBLAS of the scipy-openblas32 wheel, whose symbols carry the prefix
 * `scipy_` (the build passes -DBLAS_SYMBOL_PREFIX=scipy_). A system OpenBLAS has no prefix. */
#ifndef MLPC_BLAS_H
#define MLPC_BLAS_H
#include <cblas.h>

#define MLPC_CAT_(a, b) a##b
#define MLPC_CAT(a, b) MLPC_CAT_(a, b)
#ifdef BLAS_SYMBOL_PREFIX
#define MLPC_BLAS(name) MLPC_CAT(BLAS_SYMBOL_PREFIX, name)
#else
#define MLPC_BLAS(name) name
#endif
#endif
