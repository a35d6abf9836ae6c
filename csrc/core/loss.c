#include <string.h>
#include <tgmath.h>
#include "mlpc.h"
#include "simd.h"

/* vmath's exp in double, for the softmax shifts of both dtypes (loss.inc) */
#define real double
#define ureal uint64_t
#define sreal int64_t
#define R(name) name##_double
#include "vmath.inc"
#undef real
#undef ureal
#undef sreal
#undef R

#define MLPC_TEMPLATE "loss.inc"
#include "instantiate.h"
