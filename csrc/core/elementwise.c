#include "mlpc.h"
#define MLPC_TEMPLATE "elementwise.inc"
#include "instantiate.h"
