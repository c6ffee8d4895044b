/*
 * Iterative pre-parse scan of an ONNX file (see wire_check.h for why).
 *
 * The scan follows the schema through protobuf-c's own generated descriptors:
 * a length-delimited field whose descriptor says "message" is entered, any
 * other one (strings, bytes, packed numbers, unknown fields) is skipped. An
 * explicit stack of message ends replaces the recursion, so the scan's own
 * depth is a fixed array, and it allocates nothing. Wording at the top level
 * matches the loader's post-failure diagnosis, so a user sees the same message
 * whichever of the two catches a file.
 */
#include <stdbool.h>

#include <protobuf-c/protobuf-c.h>

#include "onnx.pb-c.h"
#include "onnx/wire_check.h"

struct wire_frame {
    size_t end;                             /* offset one past this message */
    const ProtobufCMessageDescriptor *desc; /* its type */
};

static bool read_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= end)
            return false;
        uint8_t b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

enum sp_status sp_onnx_wire_check(const uint8_t *buf, size_t len, const char *name, struct sp_error *err)
{
    struct wire_frame stack[SP_WIRE_MAX_DEPTH + 1];
    int depth = 0;
    stack[0].end = len;
    stack[0].desc = &onnx__model_proto__descriptor;
    size_t pos = 0;
    if (!name)
        name = "<memory>";

    for (;;) {
        while (depth > 0 && pos == stack[depth].end)
            depth--;
        if (depth == 0 && pos == len)
            return SP_OK;
        const struct wire_frame *fr = &stack[depth];
        size_t field_at = pos;
        uint64_t key, v;
        if (!read_varint(buf, fr->end, &pos, &key)) {
            if (depth == 0 && pos >= len)
                return sp_error_set(err, SP_ERR_FORMAT,
                                    "%s: truncated ONNX model (file ends inside a field key at byte %zu)", name, field_at);
            return sp_error_set(err, SP_ERR_FORMAT, "%s: not a valid ONNX model (bad field key in %s at byte %zu)", name,
                                fr->desc->name, field_at);
        }
        unsigned wt = (unsigned)(key & 7);
        uint64_t field = key >> 3;
        if (field == 0 || field > 536870911u || wt == 3 || wt == 4 || wt > 5) {
            if (depth == 0)
                return sp_error_set(err, SP_ERR_FORMAT,
                                    "%s: not an ONNX model (not protobuf: field %llu with wire type %u at byte %zu)", name,
                                    (unsigned long long)field, wt, field_at);
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: not a valid ONNX model (field %llu of %s has wire type %u at byte %zu)", name,
                                (unsigned long long)field, fr->desc->name, wt, field_at);
        }
        size_t left;
        switch (wt) {
        case 0:
            if (!read_varint(buf, fr->end, &pos, &v))
                goto past_end;
            break;
        case 1:
        case 5:
            left = fr->end - pos;
            if (left < (wt == 1 ? 8u : 4u))
                goto past_end;
            pos += wt == 1 ? 8 : 4;
            break;
        case 2: {
            if (!read_varint(buf, fr->end, &pos, &v))
                goto past_end;
            left = fr->end - pos;
            if (v > left)
                goto past_end;
            const ProtobufCFieldDescriptor *fd =
                protobuf_c_message_descriptor_get_field(fr->desc, (unsigned)field);
            if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth == SP_WIRE_MAX_DEPTH)
                    return sp_error_set(err, SP_ERR_FORMAT,
                                        "%s: not a valid ONNX model (messages nest deeper than %d levels at byte %zu)",
                                        name, SP_WIRE_MAX_DEPTH, field_at);
                depth++;
                stack[depth].end = pos + (size_t)v;
                stack[depth].desc = fd->descriptor;
            } else {
                pos += (size_t)v;
            }
            break;
        }
        }
        continue;
    past_end:
        if (depth == 0)
            return sp_error_set(err, SP_ERR_FORMAT,
                                "%s: truncated ONNX model (field %llu at byte %zu runs past the end of the %zu-byte file)",
                                name, (unsigned long long)field, field_at, len);
        return sp_error_set(err, SP_ERR_FORMAT,
                            "%s: not a valid ONNX model (field %llu of %s at byte %zu runs past the end of its enclosing "
                            "message)",
                            name, (unsigned long long)field, fr->desc->name, field_at);
    }
}
