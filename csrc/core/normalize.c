#include "mlpc.h"
#define MLPC_TEMPLATE "normalize.inc"
#include "instantiate.h"
