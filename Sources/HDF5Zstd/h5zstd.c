#include "h5zstd.h"
