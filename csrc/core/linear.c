#include <string.h>
#include "mlpc.h"
#define MLPC_TEMPLATE "linear.inc"
#include "instantiate.h"
