/*
 * libFuzzer harness for the ONNX loader and engine construction: any byte
 * string is a model file. Loading must fail cleanly or give a model whose
 * engine either builds or fails cleanly; the sanitizers catch the rest.
 */
#include <stddef.h>
#include <stdint.h>

#include "sparsify/engine.h"
#include "sparsify/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sp_error err = {0};
    struct sp_model *m = NULL;
    /* base_dir NULL: external data is an error, the fuzzer must not read files. */
    if (sp_model_load_buffer(data, size, "fuzz.onnx", NULL, &m, &err) == SP_OK) {
        struct sp_engine *e = NULL;
        if (sp_engine_create(m, NULL, &e, &err) == SP_OK)
            sp_engine_free(e);
        sp_model_free(m);
    }
    return 0;
}
