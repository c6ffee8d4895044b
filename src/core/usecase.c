/*
 * --use-case resolution: one table of canonical names and aliases, matched on a
 * normalized form (lower case, separators dropped) so that users may spell a
 * use case the way their framework does.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "sparsify/usecase.h"

struct use_case_entry {
    const char *canonical;
    enum sp_task_family family;
    const char *aliases[12]; /* normalized; NULL-terminated */
};

static const struct use_case_entry table[SP_USE_CASE_COUNT] = {
    [SP_USE_CASE_CUSTOM] = {"custom", SP_TASK_CUSTOM, {NULL}},
    [SP_USE_CASE_CV_CLASSIFICATION] = {"cv-classification", SP_TASK_CV,
        {"cvclassification", "imageclassification", "classification", "ic", "imageclassifier", NULL}},
    [SP_USE_CASE_CV_DETECTION] = {"cv-detection", SP_TASK_CV,
        {"cvdetection", "objectdetection", "detection", "od", "yolo", "ssd", NULL}},
    [SP_USE_CASE_CV_SEGMENTATION] = {"cv-segmentation", SP_TASK_CV,
        {"cvsegmentation", "segmentation", "semanticsegmentation", "imagesegmentation", "instancesegmentation",
         NULL}},
    [SP_USE_CASE_NLP_QUESTION_ANSWERING] = {"nlp-question_answering", SP_TASK_NLP,
        {"nlpquestionanswering", "questionanswering", "qa", "squad", NULL}},
    [SP_USE_CASE_NLP_TEXT_CLASSIFICATION] = {"nlp-text_classification", SP_TASK_NLP,
        {"nlptextclassification", "textclassification", "glue", "sequenceclassification", NULL}},
    [SP_USE_CASE_NLP_SENTIMENT_ANALYSIS] = {"nlp-sentiment_analysis", SP_TASK_NLP,
        {"nlpsentimentanalysis", "sentimentanalysis", "sentiment", "sst2", NULL}},
    [SP_USE_CASE_NLP_TOKEN_CLASSIFICATION] = {"nlp-token_classification", SP_TASK_NLP,
        {"nlptokenclassification", "tokenclassification", NULL}},
    [SP_USE_CASE_NLP_NAMED_ENTITY_RECOGNITION] = {"nlp-named_entity_recognition", SP_TASK_NLP,
        {"nlpnamedentityrecognition", "namedentityrecognition", "ner", NULL}},
};

const char *sp_use_case_canonical(enum sp_use_case_id id)
{
    return (unsigned)id < SP_USE_CASE_COUNT ? table[id].canonical : "custom";
}

const char *sp_task_family_name(enum sp_task_family family)
{
    switch (family) {
    case SP_TASK_CV: return "cv";
    case SP_TASK_NLP: return "nlp";
    default: return "custom";
    }
}

const char *const *sp_use_case_aliases(enum sp_use_case_id id)
{
    return (unsigned)id < SP_USE_CASE_COUNT ? table[id].aliases : table[0].aliases;
}

/* Finds `key` among the aliases of the use cases of `family` (any family when
 * family is SP_TASK_CUSTOM). Returns SP_USE_CASE_CUSTOM when none matches. */
static enum sp_use_case_id lookup(const char *key, enum sp_task_family family)
{
    for (int id = 1; id < SP_USE_CASE_COUNT; id++) {
        if (family != SP_TASK_CUSTOM && table[id].family != family)
            continue;
        for (const char *const *a = table[id].aliases; *a; a++)
            if (strcmp(*a, key) == 0)
                return (enum sp_use_case_id)id;
    }
    return SP_USE_CASE_CUSTOM;
}

enum sp_status sp_use_case_resolve(const char *text, struct sp_use_case *out, struct sp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return sp_error_set(err, SP_ERR_USAGE, "--use-case: expected a use case such as cv-classification, got an "
                                               "empty string");
    size_t len = strlen(text);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c > 0x7e)
            return sp_error_set(err, SP_ERR_USAGE,
                                "--use-case: expected printable ASCII, got byte 0x%02x at position %zu", c, i);
    }
    if (len > SP_USE_CASE_NAME_MAX)
        return sp_error_set(err, SP_ERR_USAGE, "--use-case: expected at most %d characters, got %zu",
                            SP_USE_CASE_NAME_MAX, len);

    char key[SP_USE_CASE_NAME_MAX + 1];
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] != '-' && text[i] != '_' && text[i] != ' ')
            key[k++] = (char)tolower((unsigned char)text[i]);
    key[k] = '\0';
    if (k == 0)
        return sp_error_set(err, SP_ERR_USAGE, "--use-case: expected a use case such as cv-classification, got '%s'",
                            text);

    enum sp_use_case_id id = lookup(key, SP_TASK_CUSTOM);
    /* "cv-yolo", "nlp-ner": a family prefix before an alias of that family. */
    if (id == SP_USE_CASE_CUSTOM && strncmp(key, "cv", 2) == 0 && key[2])
        id = lookup(key + 2, SP_TASK_CV);
    if (id == SP_USE_CASE_CUSTOM && strncmp(key, "nlp", 3) == 0 && key[3])
        id = lookup(key + 3, SP_TASK_NLP);

    out->id = id;
    out->family = table[id].family;
    out->custom = id == SP_USE_CASE_CUSTOM;
    snprintf(out->name, sizeof out->name, "%s", out->custom ? text : table[id].canonical);
    return SP_OK;
}
