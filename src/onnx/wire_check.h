/*
 * A pre-parse scan of an ONNX file's protobuf wire format.
 *
 * protobuf-c unpacks nested messages by recursion with no depth limit, so a
 * hostile file that nests GraphProto inside AttributeProto inside NodeProto a
 * few hundred thousand times would exhaust the stack before any check of ours
 * runs. This scan walks the same bytes iteratively first and refuses what the
 * recursive parser must never see.
 */
#ifndef SPARSIFY_ONNX_WIRE_CHECK_H
#define SPARSIFY_ONNX_WIRE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "sparsify/status.h"

/* Messages nested deeper than this are refused (protobuf's own C++ default).
 * An ONNX subgraph costs three levels (Node, Attribute, Graph), so this still
 * allows about 30 levels of If/Loop bodies. */
#define SP_WIRE_MAX_DEPTH 100

/*
 * Scans `buf` (`len` bytes) as a serialized onnx.ModelProto without allocating
 * or recursing. Fails with SP_ERR_FORMAT, naming `name` and the byte offset, if
 * messages nest deeper than SP_WIRE_MAX_DEPTH, if a length prefix runs past the
 * end of the message that contains it, or if a field key is not protobuf.
 * Returns SP_OK for anything the parser may safely see (which can still fail
 * to unpack for other reasons).
 */
enum sp_status sp_onnx_wire_check(const uint8_t *buf, size_t len, const char *name, struct sp_error *err);

#endif
