#include <string.h>
#include "mlpc.h"
#define MLPC_TEMPLATE "activation.inc"
#include "instantiate.h"
