#include <string.h>
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

void mlpc_optim_begin(mlpc_optim_config *cfg)
{
    cfg->step++;
    cfg->bias1 = 1 - pow(cfg->beta1, (double)cfg->step);
    cfg->bias2 = 1 - pow(cfg->beta2, (double)cfg->step);
}
