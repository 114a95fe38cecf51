/* Prints HDF5's built-in plugin folder (where h5dump looks when HDF5_PLUGIN_PATH is unset):
 * the Makefile installs the zstd plugin there. Run with HDF5_PLUGIN_PATH unset. */
#include <hdf5.h>
#include <stdio.h>

int main(void) {
    char folder[4096];
    unsigned count = 0;
    if (H5PLsize(&count) < 0 || count == 0 || H5PLget(0, folder, sizeof folder) <= 0) return 1;
    puts(folder);
    return 0;
}
