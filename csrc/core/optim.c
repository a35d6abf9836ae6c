#include "net.h"
#define MLPC_TEMPLATE "optim.inc"
#include "instantiate.h"

size_t mlpc_optim_state_count(mlpc_optimizer kind)
{
    switch (kind) {
    case MLPC_SGD: case MLPC_ADAGRAD: return 1;
    case MLPC_RMSPROP: return 2;
    default: return 3;
    }
}
