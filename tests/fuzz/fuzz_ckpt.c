/*
 * libFuzzer harness for the checkpoint reader: each input is written to a
 * file (HDF5 reads files) and read back with sp_ckpt_read. HDF5 itself is not
 * instrumented, so coverage counts only sparsify's checks around it.
 */
#include <stdio.h>
#include <unistd.h>

#include "sparsify/ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/sparsify-fuzz-%ld.h5", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    size_t w = fwrite(data, 1, size, f);
    fclose(f);
    if (w == size) {
        struct sp_error err = {0};
        struct sp_ckpt *c = NULL;
        if (sp_ckpt_read(path, &c, &err) == SP_OK)
            sp_ckpt_free(c);
    }
    unlink(path);
    return 0;
}
