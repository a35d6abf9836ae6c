/* CRC-32C (Castagnoli), the checksum of the TFRecord frames of TensorBoard's event files that
 * mlpc writes (python/mlpc/tensorboard.py). Bitwise, reflected polynomial 0x82F63B78: a few ns a
 * byte, no table to build or share between threads. */
#include "mlpc.h"

uint32_t mlpc_crc32c(const unsigned char *data, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}
