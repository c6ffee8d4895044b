/* --use-case resolution: every documented alias, custom names, and the texts
 * that must be refused. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "sparsify/usecase.h"
#include "testutil.h"

static void expect(const char *text, enum sp_use_case_id id, enum sp_task_family fam)
{
    struct sp_use_case uc;
    struct sp_error err = {0};
    enum sp_status st = sp_use_case_resolve(text, &uc, &err);
    CU_ASSERT_EQUAL_FATAL(st, SP_OK);
    if (uc.id != id)
        fprintf(stderr, "'%s' resolved to %s, expected %s\n", text, uc.name, sp_use_case_canonical(id));
    CU_ASSERT_EQUAL(uc.id, id);
    CU_ASSERT_EQUAL(uc.family, fam);
    CU_ASSERT_FALSE(uc.custom);
    CU_ASSERT_STRING_EQUAL(uc.name, sp_use_case_canonical(id));
}

static void test_canonical_names(void)
{
    expect("cv-classification", SP_USE_CASE_CV_CLASSIFICATION, SP_TASK_CV);
    expect("cv-detection", SP_USE_CASE_CV_DETECTION, SP_TASK_CV);
    expect("cv-segmentation", SP_USE_CASE_CV_SEGMENTATION, SP_TASK_CV);
    expect("nlp-question_answering", SP_USE_CASE_NLP_QUESTION_ANSWERING, SP_TASK_NLP);
    expect("nlp-text_classification", SP_USE_CASE_NLP_TEXT_CLASSIFICATION, SP_TASK_NLP);
    expect("nlp-sentiment_analysis", SP_USE_CASE_NLP_SENTIMENT_ANALYSIS, SP_TASK_NLP);
    expect("nlp-token_classification", SP_USE_CASE_NLP_TOKEN_CLASSIFICATION, SP_TASK_NLP);
    expect("nlp-named_entity_recognition", SP_USE_CASE_NLP_NAMED_ENTITY_RECOGNITION, SP_TASK_NLP);
    for (int id = 1; id < SP_USE_CASE_COUNT; id++)
        expect(sp_use_case_canonical((enum sp_use_case_id)id), (enum sp_use_case_id)id,
               strncmp(sp_use_case_canonical((enum sp_use_case_id)id), "cv", 2) == 0 ? SP_TASK_CV : SP_TASK_NLP);
}

static void test_aliases_of_the_issue(void)
{
    const struct {
        const char *text;
        enum sp_use_case_id id;
    } cases[] = {
        {"image_classification", SP_USE_CASE_CV_CLASSIFICATION},
        {"classification", SP_USE_CASE_CV_CLASSIFICATION},
        {"ic", SP_USE_CASE_CV_CLASSIFICATION},
        {"cv_classification", SP_USE_CASE_CV_CLASSIFICATION},
        {"object_detection", SP_USE_CASE_CV_DETECTION},
        {"detection", SP_USE_CASE_CV_DETECTION},
        {"od", SP_USE_CASE_CV_DETECTION},
        {"yolo", SP_USE_CASE_CV_DETECTION},
        {"ssd", SP_USE_CASE_CV_DETECTION},
        {"segmentation", SP_USE_CASE_CV_SEGMENTATION},
        {"semantic_segmentation", SP_USE_CASE_CV_SEGMENTATION},
        {"image_segmentation", SP_USE_CASE_CV_SEGMENTATION},
        {"question_answering", SP_USE_CASE_NLP_QUESTION_ANSWERING},
        {"qa", SP_USE_CASE_NLP_QUESTION_ANSWERING},
        {"squad", SP_USE_CASE_NLP_QUESTION_ANSWERING},
        {"text_classification", SP_USE_CASE_NLP_TEXT_CLASSIFICATION},
        {"glue", SP_USE_CASE_NLP_TEXT_CLASSIFICATION},
        {"sentiment_analysis", SP_USE_CASE_NLP_SENTIMENT_ANALYSIS},
        {"sentiment", SP_USE_CASE_NLP_SENTIMENT_ANALYSIS},
        {"sst2", SP_USE_CASE_NLP_SENTIMENT_ANALYSIS},
        {"token_classification", SP_USE_CASE_NLP_TOKEN_CLASSIFICATION},
        {"ner", SP_USE_CASE_NLP_NAMED_ENTITY_RECOGNITION},
        {"named_entity_recognition", SP_USE_CASE_NLP_NAMED_ENTITY_RECOGNITION},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect(cases[i].text, cases[i].id, cases[i].id <= SP_USE_CASE_CV_SEGMENTATION ? SP_TASK_CV : SP_TASK_NLP);
}

static void test_every_table_alias_resolves_to_its_entry(void)
{
    for (int id = 1; id < SP_USE_CASE_COUNT; id++) {
        const char *const *a = sp_use_case_aliases((enum sp_use_case_id)id);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a[0]);
        for (; *a; a++)
            expect(*a, (enum sp_use_case_id)id, id <= SP_USE_CASE_CV_SEGMENTATION ? SP_TASK_CV : SP_TASK_NLP);
    }
}

static void test_case_and_separators_are_ignored(void)
{
    expect("Image Classification", SP_USE_CASE_CV_CLASSIFICATION, SP_TASK_CV);
    expect("IMAGE-CLASSIFICATION", SP_USE_CASE_CV_CLASSIFICATION, SP_TASK_CV);
    expect("  i_c - ", SP_USE_CASE_CV_CLASSIFICATION, SP_TASK_CV);
    expect("Object Detection", SP_USE_CASE_CV_DETECTION, SP_TASK_CV);
    expect("NLP_Question-Answering", SP_USE_CASE_NLP_QUESTION_ANSWERING, SP_TASK_NLP);
    expect("QA", SP_USE_CASE_NLP_QUESTION_ANSWERING, SP_TASK_NLP);
    expect("Named Entity Recognition", SP_USE_CASE_NLP_NAMED_ENTITY_RECOGNITION, SP_TASK_NLP);
    expect("SST-2", SP_USE_CASE_NLP_SENTIMENT_ANALYSIS, SP_TASK_NLP);
}

static void test_family_prefix_before_alias(void)
{
    expect("nlp-ner", SP_USE_CASE_NLP_NAMED_ENTITY_RECOGNITION, SP_TASK_NLP);
    expect("cv-yolo", SP_USE_CASE_CV_DETECTION, SP_TASK_CV);
    expect("nlp_qa", SP_USE_CASE_NLP_QUESTION_ANSWERING, SP_TASK_NLP);
    /* A prefix of the other family does not borrow an alias. */
    struct sp_use_case uc;
    CU_ASSERT_EQUAL(sp_use_case_resolve("cv-ner", &uc, NULL), SP_OK);
    CU_ASSERT_TRUE(uc.custom);
}

static void test_custom_use_case_is_kept_verbatim(void)
{
    struct sp_use_case uc;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL(sp_use_case_resolve("OCR / Receipts v2", &uc, &err), SP_OK);
    CU_ASSERT_TRUE(uc.custom);
    CU_ASSERT_EQUAL(uc.id, SP_USE_CASE_CUSTOM);
    CU_ASSERT_EQUAL(uc.family, SP_TASK_CUSTOM);
    CU_ASSERT_STRING_EQUAL(uc.name, "OCR / Receipts v2");
    CU_ASSERT_STRING_EQUAL(sp_task_family_name(uc.family), "custom");
    /* Near misses of known names are custom too, not silently mapped. */
    CU_ASSERT_EQUAL(sp_use_case_resolve("classifcation", &uc, &err), SP_OK);
    CU_ASSERT_TRUE(uc.custom);
}

static void expect_error(const char *text, const char *needle)
{
    struct sp_use_case uc;
    struct sp_error err = {0};
    CU_ASSERT_EQUAL(sp_use_case_resolve(text, &uc, &err), SP_ERR_USAGE);
    CU_ASSERT_EQUAL(err.status, SP_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--use-case"));
    if (needle)
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));
    CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
}

static void test_refused_texts(void)
{
    expect_error(NULL, "empty");
    expect_error("", "empty");
    expect_error(" - _ ", NULL);
    expect_error("d\xc3\xa9tection", "ASCII");   /* UTF-8 */
    expect_error("image\tclassification", "0x09"); /* control character */
    expect_error("ic\n", "0x0a");
    expect_error("\x7f", "0x7f");
    char longtext[SP_USE_CASE_NAME_MAX + 2];
    memset(longtext, 'a', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    expect_error(longtext, "at most");
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("usecase", NULL, NULL);
    CU_add_test(s, "canonical names resolve to themselves", test_canonical_names);
    CU_add_test(s, "aliases listed in the issue", test_aliases_of_the_issue);
    CU_add_test(s, "every alias in the table", test_every_table_alias_resolves_to_its_entry);
    CU_add_test(s, "case and separators are ignored", test_case_and_separators_are_ignored);
    CU_add_test(s, "family prefix before an alias", test_family_prefix_before_alias);
    CU_add_test(s, "custom use case kept verbatim", test_custom_use_case_is_kept_verbatim);
    CU_add_test(s, "empty, non-ASCII, control and long texts refused", test_refused_texts);
    return sp_test_main();
}
