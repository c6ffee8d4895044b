/*
 * check_report FILE PATH=JSON ... : exits 0 when every dotted PATH of the JSON
 * file holds exactly the JSON value given (compared with json_equal), and
 * prints what differs otherwise. PATH?=TYPE checks only the type (string,
 * number, integer, bool, null, array, object). Used by the CLI script tests so
 * they need no Python.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static json_t *lookup(json_t *root, const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = root;
    for (char *part = strtok(buf, "."); part && v; part = strtok(NULL, "."))
        v = json_is_array(v) ? json_array_get(v, (size_t)atoi(part)) : json_object_get(v, part);
    return v;
}

static int type_is(const json_t *v, const char *t)
{
    return (!strcmp(t, "string") && json_is_string(v)) || (!strcmp(t, "number") && json_is_number(v)) ||
           (!strcmp(t, "integer") && json_is_integer(v)) || (!strcmp(t, "bool") && json_is_boolean(v)) ||
           (!strcmp(t, "null") && json_is_null(v)) || (!strcmp(t, "array") && json_is_array(v)) ||
           (!strcmp(t, "object") && json_is_object(v));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: check_report FILE PATH=JSON|PATH?=TYPE...\n");
        return 2;
    }
    json_error_t jerr;
    json_t *root = json_load_file(argv[1], JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fprintf(stderr, "%s: not valid JSON: line %d: %s\n", argv[1], jerr.line, jerr.text);
        return 1;
    }
    int bad = 0;
    for (int i = 2; i < argc; i++) {
        char path[512];
        const char *eq = strchr(argv[i], '=');
        if (!eq || (size_t)(eq - argv[i]) >= sizeof path) {
            fprintf(stderr, "bad check '%s'\n", argv[i]);
            return 2;
        }
        int type_only = eq > argv[i] && eq[-1] == '?';
        size_t n = (size_t)(eq - argv[i]) - (size_t)type_only;
        memcpy(path, argv[i], n);
        path[n] = '\0';
        json_t *have = lookup(root, path);
        if (!have) {
            fprintf(stderr, "%s: missing\n", path);
            bad = 1;
            continue;
        }
        if (type_only) {
            if (!type_is(have, eq + 1)) {
                fprintf(stderr, "%s: expected a %s\n", path, eq + 1);
                bad = 1;
            }
            continue;
        }
        json_t *want = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);
        if (!want) {
            fprintf(stderr, "bad expected JSON in '%s'\n", argv[i]);
            return 2;
        }
        /* 0 and 0.0 are the same number here. */
        int same = json_equal(have, want) ||
                   (json_is_number(have) && json_is_number(want) && json_number_value(have) == json_number_value(want));
        if (!same) {
            char *h = json_dumps(have, JSON_ENCODE_ANY);
            fprintf(stderr, "%s: expected %s, got %s\n", path, eq + 1, h ? h : "?");
            free(h);
            bad = 1;
        }
        json_decref(want);
    }
    json_decref(root);
    return bad;
}
