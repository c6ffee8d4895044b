/*
 * Writes small but complete checkpoints into a folder, the seed corpus of
 * fuzz_ckpt (no checkpoint file is committed: this keeps the seeds in step
 * with the writer's format).
 *
 *   seed_ckpt DIR
 */
#include <stdio.h>
#include <string.h>

#include "sparsify/ckpt.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seed_ckpt DIR\n");
        return 2;
    }
    struct sp_ckpt_tensor tensors[2] = {{(char *)"input", -1.0, 2.0, 100, 0, 0},
                                        {(char *)"conv_out", 0.0, 5.5, 400, 1, 2}};
    int64_t hist[2 * 8] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    sp_exact_t acc[2 * 6];
    memset(acc, 0, sizeof acc);
    struct sp_ckpt_hessian hess = {(char *)"conv.weight", 2, 3, 20, 40, 40, acc};
    struct sp_ckpt c = {0};
    c.version = SP_CKPT_FORMAT_VERSION;
    memset(c.model_sha256, 'a', 64);
    memset(c.data_sha256, 'b', 64);
    c.batch_size = 4;
    c.holdout = 0.05;
    c.bins = 8;
    c.groups = 5;
    c.n_tensors = 2;
    c.tensors = tensors;
    char path[4096];
    struct sp_error err = {0};
    for (int variant = 0; variant < 3; variant++) {
        c.pass = variant + 1;
        c.groups_done = variant == 2 ? 5 : 2;
        c.hist = variant >= 1 ? hist : NULL;
        c.hessians = variant >= 1;
        c.n_hessians = variant >= 1;
        c.hess = variant >= 1 ? &hess : NULL;
        snprintf(path, sizeof path, "%s/seed_%d.h5", argv[1], variant);
        if (sp_ckpt_write(path, &c, &err)) {
            fprintf(stderr, "seed_ckpt: %s\n", err.msg);
            return 1;
        }
    }
    return 0;
}
