#include <math.h>
#include <string.h>
#include "mlpc.h"

#if defined(__GNUC__)
#define MLPC_ALWAYS_INLINE __attribute__((always_inline))
#else
#define MLPC_ALWAYS_INLINE
#endif
#define MLPC_TEMPLATE "statistics.inc"
#include "instantiate.h"
