#include <math.h>
#include <string.h>
#include "mlpc.h"

#define MLPC_TEMPLATE "statistics.inc"
#include "instantiate.h"
