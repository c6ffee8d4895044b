/*
 * libFuzzer harness for the sample reader: each input is parsed as a bare
 * .npy image (sp_npy_parse) and, written to a file, as an .npz archive
 * (sp_npz_read goes through libzip, which wants a file). Per-array limit 16 MiB
 * so a lying header is refused, not allocated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sparsify/data.h"

#define FUZZ_MAX_BYTES ((size_t)16 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sp_error err = {0};
    struct sp_tensor t;
    if (sp_npy_parse(data, size, "fuzz.npy", FUZZ_MAX_BYTES, &t, &err) == SP_OK)
        sp_tensor_free(&t);

    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/sparsify-fuzz-%ld.npz", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    size_t w = fwrite(data, 1, size, f);
    fclose(f);
    if (w == size) {
        struct sp_npz z = {0};
        struct sp_error err2 = {0};
        if (sp_npz_read(path, FUZZ_MAX_BYTES, &z, &err2) == SP_OK)
            sp_npz_free(&z);
    }
    unlink(path);
    return 0;
}
