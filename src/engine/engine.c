/* STUB: replaced by the engine implementation. Every call fails loudly. */
#include <stdlib.h>
#include "sparsify/engine.h"
#define NI(what) sp_error_set(err, SP_ERR_NOT_IMPLEMENTED, "%s: not implemented yet", what)
enum sp_status sp_engine_create(const struct sp_model *model, const struct sp_engine_options *opt, struct sp_engine **out, struct sp_error *err) { *out = NULL; return NI("sp_engine_create"); }
void sp_engine_free(struct sp_engine *e) { (void)e; }
enum sp_status sp_engine_run(struct sp_engine *e, const struct sp_tensor *inputs, struct sp_tensor *outputs, struct sp_error *err) { return NI("sp_engine_run"); }
void sp_engine_set_observer(struct sp_engine *e, sp_engine_observer_fn fn, void *user) { (void)e; }
size_t sp_engine_arena_bytes(const struct sp_engine *e) { return 0; }
