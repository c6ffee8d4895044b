/* STUB: replaced by the ONNX I/O implementation. Every call fails loudly. */
#include <stdlib.h>
#include "onnx/model_internal.h"
#define NI(what) sp_error_set(err, SP_ERR_NOT_IMPLEMENTED, "%s: not implemented yet", what)
enum sp_status sp_model_load(const char *path, struct sp_model **out, struct sp_error *err) { *out = NULL; return NI("sp_model_load"); }
enum sp_status sp_model_load_buffer(const void *buf, size_t len, const char *name, const char *base_dir, struct sp_model **out, struct sp_error *err) { *out = NULL; return NI("sp_model_load_buffer"); }
enum sp_status sp_model_save(const struct sp_model *m, const char *path, struct sp_error *err) { return NI("sp_model_save"); }
enum sp_status sp_model_serialize(const struct sp_model *m, void **buf, size_t *len, struct sp_error *err) { return NI("sp_model_serialize"); }
void sp_model_free(struct sp_model *m) { (void)m; }
const char *sp_model_path(const struct sp_model *m) { return m->path; }
int64_t sp_model_opset(const struct sp_model *m) { return m->opset; }
int64_t sp_model_ir_version(const struct sp_model *m) { return m->proto->ir_version; }
int sp_model_num_inputs(const struct sp_model *m) { return m->n_inputs; }
const struct sp_value_info *sp_model_input(const struct sp_model *m, int i) { return &m->inputs[i]; }
int sp_model_num_outputs(const struct sp_model *m) { return m->n_outputs; }
const struct sp_value_info *sp_model_output(const struct sp_model *m, int i) { return &m->outputs[i]; }
int sp_model_num_nodes(const struct sp_model *m) { return (int)m->proto->graph->n_node; }
enum sp_status sp_tensor_from_proto(const Onnx__TensorProto *tp, struct sp_tensor *out, const char *what, struct sp_error *err) { return NI("sp_tensor_from_proto"); }
Onnx__TensorProto *sp_tensor_to_proto(const struct sp_tensor *t, const char *name, struct sp_error *err) { NI("sp_tensor_to_proto"); return NULL; }
void sp_tensor_proto_free(Onnx__TensorProto *tp) { (void)tp; }
enum sp_status sp_model_refresh(struct sp_model *m, struct sp_error *err) { return NI("sp_model_refresh"); }
enum sp_status sp_model_wrap(Onnx__ModelProto *proto, const char *path, struct sp_model **out, struct sp_error *err) { return NI("sp_model_wrap"); }
enum sp_status sp_model_clone(const struct sp_model *m, struct sp_model **out, struct sp_error *err) { return NI("sp_model_clone"); }
