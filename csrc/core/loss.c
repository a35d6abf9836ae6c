#include <string.h>
#include "mlpc.h"
#define MLPC_TEMPLATE "loss.inc"
#include "instantiate.h"
