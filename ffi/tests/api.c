/*
 * The carematch C ABI, every exported function: the success path, NULL arguments, invalid
 * UTF-8, out-of-range indexes and wrong handle use, buffer sizes, and the error messages
 * (naming the file or column, never a patient's value). Compiled as C11 with -Wall -Wextra
 * -Werror and run under AddressSanitizer/UBSan (static library) and valgrind (shared
 * library) by ffi/run-c-tests.sh, from the repository root. The pseudonym vectors come from
 * tests/data/vectors.json (as target/c-tests/vectors.tsv, written by the script).
 *
 * Prints one line per failed check and ends with "N passed, N failed".
 */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carematch.h"

#include "check.h"

#define S(lit) ((carematch_str){(lit), sizeof(lit) - 1})

/* A file in the C tests' directory: $CARGO_TARGET_DIR/c-tests (as run-c-tests.sh, which writes
 * the vectors there), or target/c-tests from the repository root. Each call has its own
 * buffer among a few, so that two paths can be used at once. */
static const char *out_path(const char *name) {
    static char bufs[4][1024];
    static int next = 0;
    char *buf = bufs[next++ % 4];
    const char *target = getenv("CARGO_TARGET_DIR");
    snprintf(buf, sizeof bufs[0], "%s/c-tests/%s", target && *target ? target : "target", name);
    return buf;
}

/* The last error message of this thread. */
static const char *last_error(void) {
    static char buf[1024];
    size_t n = 0;
    if (carematch_last_error_message(buf, sizeof buf, &n) != CAREMATCH_OK) {
        buf[0] = 0;
    }
    return buf;
}

static carematch_batch *gp_batch(void) {
    carematch_batch *b = NULL;
    const char *path = "examples/data/gp.csv";
    CHECK_STATUS(carematch_batch_read_csv(path, strlen(path), &b), CAREMATCH_OK);
    return b;
}

static carematch_batch *hospital_batch(void) {
    carematch_batch *b = NULL;
    const char *path = "examples/data/hospital.csv";
    CHECK_STATUS(carematch_batch_read_csv(path, strlen(path), &b), CAREMATCH_OK);
    return b;
}

static void test_batches(void) {
    carematch_batch *b = NULL;
    size_t rows = 99;
    CHECK_STATUS(carematch_batch_new(NULL, 0, NULL), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_batch_new("\xff", 1, &b), CAREMATCH_INVALID_UTF8);
    CHECK(b == NULL); /* out-parameters are written only on success */
    CHECK_STATUS(carematch_batch_new("small", 5, &b), CAREMATCH_OK);
    CHECK_STATUS(carematch_batch_len(b, &rows), CAREMATCH_OK);
    CHECK(rows == 0);

    carematch_str ids[] = {S("A1"), S("A2"), S("A3")};
    carematch_str given[] = {S("Ann"), S("Bob"), {NULL, 0}};
    carematch_str bad_utf8[] = {S("Ann"), {"Secret\xff", 7}, S("Cy")};
    carematch_str two[] = {S("x"), S("y")};
    CHECK_STATUS(carematch_batch_add_column(b, "id", 2, CAREMATCH_ROLE_ID, ids, 3), CAREMATCH_OK);
    CHECK_STATUS(carematch_batch_add_column(b, "", 0, CAREMATCH_ROLE_GIVEN_NAME, given, 3),
                 CAREMATCH_OK);
    /* Wrong use: a bad value names the column and row, never the value. */
    CHECK_STATUS(carematch_batch_add_column(b, "", 0, CAREMATCH_ROLE_SURNAME, bad_utf8, 3),
                 CAREMATCH_INVALID_UTF8);
    CHECK(strstr(last_error(), "row 1") != NULL);
    CHECK(strstr(last_error(), "surname") != NULL);
    CHECK(strstr(last_error(), "Secret") == NULL);
    CHECK_STATUS(carematch_batch_add_column(b, "", 0, CAREMATCH_ROLE_SURNAME, two, 2),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK(strstr(last_error(), "has 2 rows; the batch has 3") != NULL);
    CHECK_STATUS(carematch_batch_add_column(b, "", 0, 99, ids, 3), CAREMATCH_INVALID_ARGUMENT);
    CHECK(strstr(last_error(), "unknown role 99") != NULL);
    CHECK_STATUS(carematch_batch_add_column(b, "", 0, CAREMATCH_ROLE_BY_NAME, ids, 3),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_batch_add_column(b, "x", 1, CAREMATCH_ROLE_ID, NULL, 3),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_batch_add_column(NULL, "x", 1, CAREMATCH_ROLE_ID, ids, 3),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_batch_len(b, &rows), CAREMATCH_OK);
    CHECK(rows == 3);
    CHECK_STATUS(carematch_batch_len(NULL, &rows), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_batch_len(b, NULL), CAREMATCH_NULL_ARGUMENT);
    carematch_batch_free(b);
    carematch_batch_free(NULL);

    /* Reading CSV: a missing file names it; a real one has its rows. */
    carematch_batch *r = NULL;
    CHECK_STATUS(carematch_batch_read_csv("no/such.csv", 11, &r), CAREMATCH_IO_ERROR);
    CHECK(strstr(last_error(), "no/such.csv") != NULL);
    CHECK(r == NULL);
    CHECK_STATUS(carematch_batch_read_csv(NULL, 3, &r), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_batch_read_csv("x", 1, NULL), CAREMATCH_NULL_ARGUMENT);
    r = gp_batch();
    CHECK_STATUS(carematch_batch_len(r, &rows), CAREMATCH_OK);
    CHECK(rows == 8064);
    carematch_batch_free(r);

    /* CSV text in memory: counted, checked, and columns can be added to it. */
    const char *text = "id,surname\nA1,Smith\nA2,\"Jones, Jr\"\n";
    carematch_batch *t = NULL;
    CHECK_STATUS(carematch_batch_from_csv("mem", 3, text, strlen(text), &t), CAREMATCH_OK);
    CHECK_STATUS(carematch_batch_len(t, &rows), CAREMATCH_OK);
    CHECK(rows == 2);
    carematch_str dobs[] = {S("1980-02-01"), S("")};
    CHECK_STATUS(carematch_batch_add_column(t, "", 0, CAREMATCH_ROLE_DATE_OF_BIRTH, dobs, 2),
                 CAREMATCH_OK);
    carematch_batch_free(t);
    const char *ragged = "id,surname\nA1,Smith,extra\n";
    t = NULL;
    CHECK_STATUS(carematch_batch_from_csv("mem.csv", 7, ragged, strlen(ragged), &t),
                 CAREMATCH_INPUT_ERROR);
    CHECK(strstr(last_error(), "mem.csv: line 2: ragged row") != NULL);
    CHECK(strstr(last_error(), "extra") == NULL);
    const char *latin1 = "id,surname\nA1,Z\xf6" "e\n";
    CHECK_STATUS(carematch_batch_from_csv("l1", 2, latin1, strlen(latin1), &t),
                 CAREMATCH_INPUT_ERROR);
    CHECK(strstr(last_error(), "not valid UTF-8") != NULL);
    CHECK_STATUS(carematch_batch_from_csv("", 0, "", 0, &t), CAREMATCH_INPUT_ERROR);
    CHECK_STATUS(carematch_batch_from_csv("x", 1, NULL, 5, &t), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_batch_from_csv("x", 1, text, strlen(text), NULL),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK(t == NULL);
}

/* The Arrow C data and stream interfaces (Arrow's abi.h, as the spec says to copy them). */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};
#endif
#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE
struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};
#endif

/* A stream of one record batch of three utf8 columns and three rows, in static storage:
 * id, nhs_number, surname; the third surname is null. */
#define ARROW_COLS 3
static const char *arrow_names[ARROW_COLS] = {"id", "nhs_number", "surname"};
static const int32_t arrow_offsets[ARROW_COLS][4] = {{0, 2, 4, 6}, {0, 10, 20, 20}, {0, 5, 10, 10}};
static const char *arrow_data[ARROW_COLS] = {"A1A2A3", "94347659199434765919", "SmithSmith"};
static const uint8_t arrow_validity[ARROW_COLS] = {0x07, 0x07, 0x03};
static const void *arrow_buffers[ARROW_COLS][3];
static const void *arrow_struct_buffers[1] = {NULL};
static struct ArrowSchema arrow_child_schemas[ARROW_COLS];
static struct ArrowSchema *arrow_child_schema_ptrs[ARROW_COLS];
static struct ArrowArray arrow_child_arrays[ARROW_COLS];
static struct ArrowArray *arrow_child_array_ptrs[ARROW_COLS];
static int arrow_batches_sent = 0;
static int arrow_stream_released = 0;

static void arrow_release_schema(struct ArrowSchema *s) {
    for (int64_t i = 0; i < s->n_children; i++) {
        s->children[i]->release = NULL;
    }
    s->release = NULL;
}

static void arrow_release_array(struct ArrowArray *a) {
    for (int64_t i = 0; i < a->n_children; i++) {
        a->children[i]->release = NULL;
    }
    a->release = NULL;
}

static void arrow_release_child_schema(struct ArrowSchema *s) { s->release = NULL; }
static void arrow_release_child_array(struct ArrowArray *a) { a->release = NULL; }

static int arrow_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out) {
    (void)st;
    for (int i = 0; i < ARROW_COLS; i++) {
        arrow_child_schemas[i] = (struct ArrowSchema){
            .format = "u", .name = arrow_names[i], .flags = 2 /* nullable */,
            .release = arrow_release_child_schema};
        arrow_child_schema_ptrs[i] = &arrow_child_schemas[i];
    }
    *out = (struct ArrowSchema){.format = "+s", .name = "", .n_children = ARROW_COLS,
                                .children = arrow_child_schema_ptrs,
                                .release = arrow_release_schema};
    return 0;
}

static int arrow_get_next(struct ArrowArrayStream *st, struct ArrowArray *out) {
    (void)st;
    if (arrow_batches_sent++ > 0) {
        out->release = NULL; /* the end of the stream */
        return 0;
    }
    for (int i = 0; i < ARROW_COLS; i++) {
        arrow_buffers[i][0] = &arrow_validity[i];
        arrow_buffers[i][1] = arrow_offsets[i];
        arrow_buffers[i][2] = arrow_data[i];
        arrow_child_arrays[i] = (struct ArrowArray){
            .length = 3, .null_count = arrow_validity[i] == 0x07 ? 0 : 1, .n_buffers = 3,
            .buffers = arrow_buffers[i], .release = arrow_release_child_array};
        arrow_child_array_ptrs[i] = &arrow_child_arrays[i];
    }
    *out = (struct ArrowArray){.length = 3, .n_buffers = 1, .n_children = ARROW_COLS,
                               .buffers = arrow_struct_buffers,
                               .children = arrow_child_array_ptrs,
                               .release = arrow_release_array};
    return 0;
}

static const char *arrow_last_error(struct ArrowArrayStream *st) {
    (void)st;
    return NULL;
}

static void arrow_release_stream(struct ArrowArrayStream *st) {
    arrow_stream_released++;
    st->release = NULL;
}

/* A batch from an Arrow C stream: read in place, nulls missing, the stream taken and released
 * whether or not the call succeeds; NULL and released streams are errors. */
static void test_arrow_stream(void) {
    struct ArrowArrayStream st = {arrow_get_schema, arrow_get_next, arrow_last_error,
                                  arrow_release_stream, NULL};
    carematch_batch *b = NULL;
    CHECK_STATUS(carematch_batch_from_arrow_stream("frame", 5, &st, &b), CAREMATCH_OK);
    CHECK(b != NULL);
    CHECK(st.release == NULL); /* moved from */
    CHECK(arrow_stream_released == 1);
    size_t rows = 0;
    CHECK_STATUS(carematch_batch_len(b, &rows), CAREMATCH_OK);
    CHECK(rows == 3);
    /* A1 and A2 share a valid NHS number and a surname: the deterministic rules link them. */
    carematch_result *r = NULL;
    CHECK_STATUS(carematch_dedupe(b, NULL, &r), CAREMATCH_OK);
    size_t n = 0;
    CHECK_STATUS(carematch_result_len(r, &n), CAREMATCH_OK);
    CHECK(n == 1);
    /* The pairs out as an Arrow stream: one record batch of n rows, seven columns, the ids as
     * utf8; it outlives the result and is released by its consumer. */
    struct ArrowArrayStream out;
    CHECK_STATUS(carematch_result_arrow_stream(r, 0, NULL), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_result_arrow_stream(NULL, 0, &out), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_result_arrow_stream(r, 2, &out), CAREMATCH_INVALID_ARGUMENT);
    /* With explain, the waterfall columns follow the pairs file's seven. */
    CHECK_STATUS(carematch_result_arrow_stream(r, 1, &out), CAREMATCH_OK);
    struct ArrowSchema wide;
    CHECK(out.get_schema(&out, &wide) == 0);
    CHECK(wide.n_children > 8 && strcmp(wide.children[7]->name, "prior") == 0);
    wide.release(&wide);
    out.release(&out);
    CHECK_STATUS(carematch_result_arrow_stream(r, 0, &out), CAREMATCH_OK);
    /* Person ids in bulk: a row per record, as carematch_result_person_id gives them. */
    struct ArrowArrayStream people;
    CHECK_STATUS(carematch_result_clusters_arrow_stream(r, &people), CAREMATCH_OK);
    CHECK_STATUS(carematch_result_clusters_arrow_stream(r, NULL), CAREMATCH_NULL_ARGUMENT);
    struct ArrowArray pb;
    CHECK(people.get_next(&people, &pb) == 0);
    CHECK(pb.release != NULL && pb.length == 3 && pb.n_children == 3);
    if (pb.release != NULL && pb.length == 3 && pb.n_children == 3) {
        const int32_t *po = pb.children[0]->buffers[1];
        const char *pd = pb.children[0]->buffers[2];
        const int32_t *ro = pb.children[2]->buffers[1];
        const char *rd = pb.children[2]->buffers[2];
        /* Each row's person id is the one carematch_result_person_id gives its record. */
        for (int i = 0; i < 3; i++) {
            int row = rd[ro[i] + 1] - '1'; /* "A1" is row 0 */
            char want[64];
            size_t wn = 0;
            CHECK_STATUS(carematch_result_person_id(r, 0, (uint32_t)row, want, sizeof want, &wn),
                         CAREMATCH_OK);
            CHECK((size_t)(po[i + 1] - po[i]) == wn && memcmp(pd + po[i], want, wn) == 0);
        }
        pb.release(&pb);
    }
    people.release(&people);
    carematch_result_free(r);
    struct ArrowSchema schema;
    CHECK(out.get_schema(&out, &schema) == 0);
    CHECK(schema.n_children == 7);
    CHECK(strcmp(schema.children[0]->name, "left_id") == 0);
    CHECK(strcmp(schema.children[0]->format, "u") == 0);
    CHECK(strcmp(schema.children[2]->format, "g") == 0); /* float64 */
    schema.release(&schema);
    struct ArrowArray batch;
    CHECK(out.get_next(&out, &batch) == 0);
    CHECK(batch.release != NULL && batch.length == (int64_t)n && batch.n_children == 7);
    if (batch.release != NULL && batch.n_children == 7) {
        const struct ArrowArray *left = batch.children[0];
        const int32_t *offsets = left->buffers[1];
        const char *data = left->buffers[2];
        CHECK(offsets[1] - offsets[0] == 2 && memcmp(data + offsets[0], "A1", 2) == 0);
        batch.release(&batch);
    }
    CHECK(out.get_next(&out, &batch) == 0);
    CHECK(batch.release == NULL); /* the end */
    out.release(&out);
    /* The batch goes out as it came in: the same record batch, the same columns. */
    struct ArrowArrayStream back;
    CHECK_STATUS(carematch_batch_arrow_stream(b, &back), CAREMATCH_OK);
    CHECK_STATUS(carematch_batch_arrow_stream(NULL, &back), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_batch_arrow_stream(b, NULL), CAREMATCH_NULL_ARGUMENT);
    struct ArrowArray bb;
    CHECK(back.get_next(&back, &bb) == 0);
    CHECK(bb.release != NULL && bb.length == 3 && bb.n_children == ARROW_COLS);
    if (bb.release != NULL) {
        bb.release(&bb);
    }
    back.release(&back);
    /* More columns cannot be added to an Arrow batch. */
    carematch_str one[3] = {S("x"), S("y"), S("z")};
    CHECK_STATUS(carematch_batch_add_column(b, "extra", 5, CAREMATCH_ROLE_BY_NAME, one, 3),
                 CAREMATCH_INVALID_ARGUMENT);
    carematch_batch_free(b);

    /* The stream is now released: reading it again is an input error naming the batch. */
    carematch_batch *again = NULL;
    CHECK_STATUS(carematch_batch_from_arrow_stream("frame", 5, &st, &again), CAREMATCH_INPUT_ERROR);
    CHECK(again == NULL);
    CHECK(strstr(last_error(), "frame: ") != NULL);
    CHECK_STATUS(carematch_batch_from_arrow_stream("frame", 5, NULL, &again),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_batch_from_arrow_stream("frame", 5, &st, NULL), CAREMATCH_NULL_ARGUMENT);
}

static void test_models(carematch_model **out) {
    carematch_batch *gp = gp_batch(), *h = hospital_batch();
    carematch_model *m = NULL;
    CHECK_STATUS(carematch_model_train(NULL, h, &m), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_model_train(gp, h, NULL), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_model_train(gp, h, &m), CAREMATCH_OK);
    CHECK(m != NULL);

    /* JSON: the size first, then the text; a small buffer is left untouched. */
    size_t need = 0, written = 0;
    CHECK_STATUS(carematch_model_to_json(m, NULL, 0, &need), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(need > 100);
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK_STATUS(carematch_model_to_json(m, small, sizeof small, &written),
                 CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(small[0] == 'x' && written == need);
    char *json = malloc(need);
    CHECK_STATUS(carematch_model_to_json(m, json, need, &written), CAREMATCH_OK);
    CHECK(written == need - 1 && json[written] == 0);
    CHECK(strstr(json, "\"comparisons\"") != NULL);
    CHECK_STATUS(carematch_model_to_json(NULL, json, need, &written), CAREMATCH_NULL_ARGUMENT);

    carematch_model *back = NULL;
    CHECK_STATUS(carematch_model_from_json(json, written, &back), CAREMATCH_OK);
    CHECK_STATUS(carematch_model_from_json("{\"x\":1}", 7, &back), CAREMATCH_CONFIG_ERROR);
    CHECK_STATUS(carematch_model_from_json("\xff", 1, &back), CAREMATCH_INVALID_UTF8);
    CHECK_STATUS(carematch_model_from_json(json, written, NULL), CAREMATCH_NULL_ARGUMENT);

    /* Save and load give the same JSON. */
    const char *path = out_path("model.json");
    CHECK_STATUS(carematch_model_save(back, path, strlen(path)), CAREMATCH_OK);
    CHECK_STATUS(carematch_model_save(NULL, path, strlen(path)), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_model_save(back, "no/such/dir/m.json", 18), CAREMATCH_IO_ERROR);
    CHECK(strstr(last_error(), "no/such/dir/m.json") != NULL);
    carematch_model *loaded = NULL;
    CHECK_STATUS(carematch_model_load(path, strlen(path), &loaded), CAREMATCH_OK);
    CHECK_STATUS(carematch_model_load("missing.json", 12, &loaded), CAREMATCH_IO_ERROR);
    CHECK_STATUS(carematch_model_load(path, strlen(path), NULL), CAREMATCH_NULL_ARGUMENT);
    char *json2 = malloc(need);
    CHECK_STATUS(carematch_model_to_json(loaded, json2, need, &written), CAREMATCH_OK);
    CHECK(strcmp(json, json2) == 0);
    free(json);
    free(json2);
    carematch_model_free(back);
    carematch_model_free(loaded);
    carematch_model_free(NULL);
    carematch_batch_free(gp);
    carematch_batch_free(h);
    *out = m;
}

static int read_pairs(const char *path, char (*left)[16], char (*right)[16], int cap) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[128];
    int n = 0;
    if (!fgets(line, sizeof line, f)) { fclose(f); return 0; }
    while (n < cap && fgets(line, sizeof line, f)) {
        char *comma = strchr(line, ',');
        if (!comma) continue;
        *comma = 0;
        char *end = comma + 1 + strcspn(comma + 1, ",\r\n");
        *end = 0;
        if (strlen(line) >= 16 || strlen(comma + 1) >= 16) continue;
        memcpy(left[n], line, strlen(line) + 1);
        memcpy(right[n], comma + 1, strlen(comma + 1) + 1);
        n++;
    }
    fclose(f);
    return n;
}

/* The decision of the pair of g's row `left` and hh's row `right` in `r`, or 0 when absent. */
static uint32_t decision_of(carematch_result *r, uint32_t left, uint32_t right) {
    size_t n = 0;
    CHECK_STATUS(carematch_result_len(r, &n), CAREMATCH_OK);
    for (size_t i = 0; i < n; i++) {
        carematch_pair p;
        if (carematch_result_get(r, i, &p) == CAREMATCH_OK && p.left == left && p.right == right) {
            return p.decision;
        }
    }
    return 0;
}

/* Reviewers' decisions through the config key `reviewed`, as `--reviewed`: a non-match is
 * removed, an unsure kept for review, a match linked even when the run had not paired the
 * records; undecided entries and unknown records are skipped; a bad decision is a config
 * error naming the key and the entry, never the text. */
static void test_reviewed(carematch_batch *g, carematch_batch *hh, carematch_model *m) {
    const char *map = "{\"columns\": {\"rec\": \"id\", \"Forename 1\": \"given_name\"},"
                      " \"thresholds\": {\"match_probability\": 0.5}";
    char cfg[1024];
    carematch_result *r = NULL;
    snprintf(cfg, sizeof cfg, "%s}", map);
    CHECK_STATUS(carematch_link_config(g, hh, m, cfg, strlen(cfg), &r), CAREMATCH_OK);
    CHECK(decision_of(r, 0, 0) == CAREMATCH_DECISION_MATCH);
    CHECK(decision_of(r, 1, 1) == CAREMATCH_DECISION_MATCH);
    CHECK(decision_of(r, 0, 1) == 0);
    /* Both matches go to audit: the stream has their two rows. */
    struct ArrowArrayStream q;
    CHECK_STATUS(carematch_result_review_arrow_stream(r, 5, 1, &q), CAREMATCH_OK);
    struct ArrowArray b;
    CHECK(q.get_next(&q, &b) == 0 && b.release != NULL && b.length == 2);
    if (b.release != NULL) b.release(&b);
    q.release(&q);
    carematch_result_free(r);

    snprintf(cfg, sizeof cfg,
             "%s, \"reviewed\": [[\"G1\", \"H1\", \"non-match\"], [\"G2\", \"H2\", \"unsure\"],"
             " [\"G1\", \"H2\", \"match\"], [\"G9\", \"H9\", \"match\"], [\"G2\", \"H1\", \"\"]]}",
             map);
    r = NULL;
    CHECK_STATUS(carematch_link_config(g, hh, m, cfg, strlen(cfg), &r), CAREMATCH_OK);
    size_t n = 0;
    CHECK_STATUS(carematch_result_len(r, &n), CAREMATCH_OK);
    CHECK(n == 2);
    CHECK(decision_of(r, 0, 0) == 0);
    CHECK(decision_of(r, 1, 1) == CAREMATCH_DECISION_REVIEW);
    CHECK(decision_of(r, 0, 1) == CAREMATCH_DECISION_MATCH);
    size_t len = 0, w = 0;
    CHECK_STATUS(carematch_result_csv(r, NULL, 0, &len), CAREMATCH_BUFFER_TOO_SMALL);
    char *csv = malloc(len);
    CHECK_STATUS(carematch_result_csv(r, csv, len, &w), CAREMATCH_OK);
    CHECK(strstr(csv, "reviewed:match") != NULL && strstr(csv, "reviewed:unsure") != NULL);
    free(csv);
    /* The unsure pair is back in the review queue. */
    CHECK_STATUS(carematch_result_review_arrow_stream(r, 0, 1, &q), CAREMATCH_OK);
    CHECK(q.get_next(&q, &b) == 0 && b.release != NULL && b.length == 1);
    if (b.release != NULL) b.release(&b);
    q.release(&q);
    carematch_result_free(r);
    /* A dedupe takes decisions too. */
    const char *dd = "{\"columns\": {\"rec\": \"id\"}, \"reviewed\": [[\"G1\", \"G2\", \"match\"]]}";
    r = NULL;
    CHECK_STATUS(carematch_dedupe_config(g, m, dd, strlen(dd), &r), CAREMATCH_OK);
    CHECK_STATUS(carematch_result_len(r, &n), CAREMATCH_OK);
    CHECK(n == 1);
    carematch_result_free(r);

    /* Bad decisions and shapes: config errors naming the key and entry, not the text. */
    snprintf(cfg, sizeof cfg, "%s, \"reviewed\": [[\"G1\", \"H1\", \"match\"],"
             " [\"G2\", \"H2\", \"Secret-Maybe\"]]}", map);
    r = NULL;
    CHECK_STATUS(carematch_link_config(g, hh, m, cfg, strlen(cfg), &r), CAREMATCH_CONFIG_ERROR);
    CHECK(r == NULL);
    CHECK(strstr(last_error(), "\"reviewed\": entry 1: the decision") != NULL);
    CHECK(strstr(last_error(), "Secret") == NULL);
    snprintf(cfg, sizeof cfg, "%s, \"reviewed\": [[\"G1\", \"match\"]]}", map);
    CHECK_STATUS(carematch_link_config(g, hh, m, cfg, strlen(cfg), &r), CAREMATCH_CONFIG_ERROR);
    CHECK(strstr(last_error(), "entry 0 is not a list of 3 strings") != NULL);
    snprintf(cfg, sizeof cfg, "%s, \"reviewed\": [[\"\", \"H1\", \"match\"]]}", map);
    CHECK_STATUS(carematch_link_config(g, hh, m, cfg, strlen(cfg), &r), CAREMATCH_CONFIG_ERROR);
    CHECK(strstr(last_error(), "entry 0: the left id is empty") != NULL);
}

/* A config through the C ABI: the column mapping, thresholds and one-to-one of a
 * `carematch --config` file; a bad key is a config error naming it. */
static void test_config(carematch_model *m) {
    carematch_batch *h = hospital_batch();
    /* The GP file with its given-name column renamed: unmapped, it is not a given name. */
    const char *text = "rec,Forename 1,surname,dob,nhs_number\n"
                       "G1,Ann,Smith,1980-02-01,943 476 5919\n"
                       "G2,Bob,Jones,1970-03-04,\n";
    const char *hosp = "id,first_name,last_name,dob,nhs_no\n"
                       "H1,ANN,SMITH,01/02/1980,\n"
                       "H2,Bob,Jones,04/03/1970,\n";
    carematch_batch *g = NULL, *hh = NULL;
    CHECK_STATUS(carematch_batch_from_csv("g", 1, text, strlen(text), &g), CAREMATCH_OK);
    CHECK_STATUS(carematch_batch_from_csv("h", 1, hosp, strlen(hosp), &hh), CAREMATCH_OK);
    const char *map = "{\"columns\": {\"rec\": \"id\", \"Forename 1\": \"given_name\"},"
                      " \"thresholds\": {\"match_probability\": 0.5}, \"one_to_one\": true}";
    carematch_result *r = NULL;
    CHECK_STATUS(carematch_link_config(g, hh, m, map, strlen(map), &r), CAREMATCH_OK);
    size_t n = 0;
    CHECK_STATUS(carematch_result_len(r, &n), CAREMATCH_OK);
    CHECK(n == 2); /* Ann and Bob, by names and date of birth */
    carematch_result_free(r);
    /* Without the mapping the file has no id column: an input error that says to map one. */
    CHECK_STATUS(carematch_link_config(g, hh, m, NULL, 0, &r), CAREMATCH_INPUT_ERROR);
    CHECK(strstr(last_error(), "\"id\"") != NULL);
    const char *bad = "{\"thresholds\": {\"match_probabilty\": 0.5}}";
    CHECK_STATUS(carematch_link_config(g, hh, m, bad, strlen(bad), &r), CAREMATCH_CONFIG_ERROR);
    CHECK(strstr(last_error(), "match_probabilty") != NULL);
    CHECK_STATUS(carematch_dedupe_config(h, m, bad, strlen(bad), &r), CAREMATCH_CONFIG_ERROR);
    const char *strict = "{\"strict\": false}";
    CHECK_STATUS(carematch_dedupe_config(h, m, strict, strlen(strict), &r), CAREMATCH_OK);
    carematch_result_free(r);
    carematch_model *t = NULL;
    const char *small = "{\"u_pairs\": 20000, \"seed\": 3, \"columns\": {\"rec\": \"id\"}}";
    CHECK_STATUS(carematch_model_train_config(g, NULL, small, strlen(small), &t), CAREMATCH_OK);
    carematch_model_free(t);
    t = NULL;
    CHECK_STATUS(carematch_model_train_config(h, NULL, bad, strlen(bad), &t),
                 CAREMATCH_CONFIG_ERROR);
    CHECK(t == NULL);
    /* Labels name record ids; one the batch lacks is a config error naming the entry, not
     * the id. */
    const char *labels = "{\"columns\": {\"rec\": \"id\", \"Forename 1\": \"given_name\"},"
                         " \"u_pairs\": 20000, \"labels\": [[\"G1\", \"H1\"], [\"G2\", \"H9\"]]}";
    CHECK_STATUS(carematch_model_train_config(g, hh, labels, strlen(labels), &t),
                 CAREMATCH_CONFIG_ERROR);
    CHECK(strstr(last_error(), "entry 1: the right id") != NULL);
    CHECK(strstr(last_error(), "H9") == NULL);
    const char *shape = "{\"labels\": [[\"G1\"]]}";
    CHECK_STATUS(carematch_model_train_config(g, hh, shape, strlen(shape), &t),
                 CAREMATCH_CONFIG_ERROR);
    CHECK(strstr(last_error(), "entry 0 is not a list of 2 strings") != NULL);
    /* Person ids of an earlier run are kept: G1 and H1 (one person) keep "P-ANN". */
    const char *prev = "{\"columns\": {\"rec\": \"id\", \"Forename 1\": \"given_name\"},"
                       " \"thresholds\": {\"match_probability\": 0.5},"
                       " \"previous_clusters\": [[\"P-ANN\", \"g\", \"G1\"], [\"P-ANN\", \"h\", \"H1\"]]}";
    CHECK_STATUS(carematch_link_config(g, hh, m, prev, strlen(prev), &r), CAREMATCH_OK);
    char pid[64];
    size_t pw = 0;
    CHECK_STATUS(carematch_result_person_id(r, 1, 0, pid, sizeof pid, &pw), CAREMATCH_OK);
    CHECK(strcmp(pid, "P-ANN") == 0);
    carematch_result_free(r);
    test_reviewed(g, hh, m);
    carematch_batch_free(g);
    carematch_batch_free(hh);
    carematch_batch_free(h);
}

/* Cell `i` of a utf8 column of an Arrow array, into `out` (NUL-terminated; "" when null). */
static void utf8_cell(const struct ArrowArray *col, int64_t i, char *out, size_t cap) {
    const uint8_t *valid = col->buffers[0];
    const int32_t *off = col->buffers[1];
    const char *data = col->buffers[2];
    size_t len = 0;
    if (valid == NULL || (valid[(i + col->offset) / 8] >> ((i + col->offset) % 8) & 1)) {
        len = (size_t)(off[i + col->offset + 1] - off[i + col->offset]);
        if (len >= cap) len = cap - 1;
        memcpy(out, data + off[i + col->offset], len);
    }
    out[len] = 0;
}

/* The review queue of the full link out as an Arrow stream: the review file's columns, a row
 * per review or ambiguous pair, then the audited matches; decision null in every row; NULL
 * arguments named in the message. */
static void test_review_stream(carematch_result *r, const carematch_pair *all, size_t n) {
    size_t to_review = 0, matches = 0;
    for (size_t i = 0; i < n; i++) {
        to_review += all[i].decision != CAREMATCH_DECISION_MATCH;
        matches += all[i].decision == CAREMATCH_DECISION_MATCH;
    }
    CHECK(to_review > 0 && matches > 7);
    struct ArrowArrayStream q;
    CHECK_STATUS(carematch_result_review_arrow_stream(NULL, 0, 1, &q), CAREMATCH_NULL_ARGUMENT);
    CHECK(strstr(last_error(), "result") != NULL);
    CHECK_STATUS(carematch_result_review_arrow_stream(r, 0, 1, NULL), CAREMATCH_NULL_ARGUMENT);
    CHECK(strstr(last_error(), "out_stream") != NULL);
    CHECK_STATUS(carematch_result_review_arrow_stream(r, 7, 1, &q), CAREMATCH_OK);
    struct ArrowSchema schema;
    CHECK(q.get_schema(&q, &schema) == 0);
    const char *first[] = {"left_id", "right_id", "decision", "status", "reason",
                           "match_weight", "match_probability"};
    const char *formats[] = {"u", "u", "u", "u", "u", "g", "g"};
    /* Seven columns, then a left_ and right_ column per value column. */
    CHECK(schema.n_children > 7 && (schema.n_children - 7) % 2 == 0);
    for (int i = 0; i < 7 && i < schema.n_children; i++) {
        CHECK(strcmp(schema.children[i]->name, first[i]) == 0);
        CHECK(strcmp(schema.children[i]->format, formats[i]) == 0);
    }
    CHECK(schema.n_children > 8 && strcmp(schema.children[7]->name, "left_given_name") == 0);
    CHECK(strcmp(schema.children[8]->name, "right_given_name") == 0);
    schema.release(&schema);
    struct ArrowArray batch;
    CHECK(q.get_next(&q, &batch) == 0);
    CHECK(batch.release != NULL && batch.length == (int64_t)(to_review + 7));
    if (batch.release != NULL && batch.length == (int64_t)(to_review + 7)) {
        CHECK(batch.children[2]->null_count == batch.length); /* decision: the reviewer's */
        char status[16], reason[32], id[32];
        utf8_cell(batch.children[3], 0, status, sizeof status);
        CHECK(strcmp(status, "review") == 0 || strcmp(status, "ambiguous") == 0);
        utf8_cell(batch.children[3], batch.length - 1, status, sizeof status);
        utf8_cell(batch.children[4], batch.length - 1, reason, sizeof reason);
        CHECK(strcmp(status, "match") == 0 && strcmp(reason, "audit") == 0);
        /* The first row is the result's first pair that is not a match. */
        size_t k = 0;
        while (k < n && all[k].decision == CAREMATCH_DECISION_MATCH) k++;
        char want[32];
        size_t w = 0;
        CHECK_STATUS(carematch_result_record_id(r, 0, all[k].left, want, sizeof want, &w),
                     CAREMATCH_OK);
        utf8_cell(batch.children[0], 0, id, sizeof id);
        CHECK(strcmp(id, want) == 0);
        batch.release(&batch);
    }
    CHECK(q.get_next(&q, &batch) == 0 && batch.release == NULL);
    q.release(&q);
    /* No audit: the pairs to decide only; an audit larger than the matches takes them all. */
    CHECK_STATUS(carematch_result_review_arrow_stream(r, (size_t)-1, 42, &q), CAREMATCH_OK);
    CHECK(q.get_next(&q, &batch) == 0);
    CHECK(batch.release != NULL && batch.length == (int64_t)(to_review + matches));
    if (batch.release != NULL) batch.release(&batch);
    q.release(&q);
}

static void test_link(carematch_model *m) {
    carematch_batch *gp = gp_batch(), *h = hospital_batch();
    carematch_result *r = NULL;
    CHECK_STATUS(carematch_link(gp, NULL, m, &r), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_link(gp, h, m, NULL), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_link(gp, h, m, &r), CAREMATCH_OK);
    size_t n = 0;
    CHECK_STATUS(carematch_result_len(r, &n), CAREMATCH_OK);
    CHECK(n > 4000);
    CHECK_STATUS(carematch_result_len(NULL, &n), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_result_len(r, NULL), CAREMATCH_NULL_ARGUMENT);

    carematch_pair p;
    CHECK_STATUS(carematch_result_get(r, 0, &p), CAREMATCH_OK);
    CHECK(p.decision >= CAREMATCH_DECISION_MATCH && p.decision <= CAREMATCH_DECISION_AMBIGUOUS);
    CHECK(p.match_probability >= 0.0 && p.match_probability <= 1.0);
    CHECK_STATUS(carematch_result_get(r, n, &p), CAREMATCH_INVALID_ARGUMENT);
    CHECK(strstr(last_error(), "pair") != NULL);
    CHECK_STATUS(carematch_result_get(r, 0, NULL), CAREMATCH_NULL_ARGUMENT);

    /* Bulk copy equals pair by pair; a short array gets the count needed and no writes. */
    size_t written = 0;
    CHECK_STATUS(carematch_result_copy(r, NULL, 0, &written), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(written == n);
    carematch_pair *all = calloc(n, sizeof *all);
    CHECK_STATUS(carematch_result_copy(r, all, n, &written), CAREMATCH_OK);
    CHECK(written == n);
    int same = 1, matched = 0, rules = 0;
    for (size_t i = 0; i < n; i++) {
        carematch_pair q;
        if (carematch_result_get(r, i, &q) != CAREMATCH_OK || q.left != all[i].left ||
            q.right != all[i].right || q.decision != all[i].decision) {
            same = 0;
        }
        matched += all[i].decision == CAREMATCH_DECISION_MATCH;
        rules += all[i].rule >= 0;
    }
    CHECK(same);
    CHECK(matched > 4000 && rules > 1000);
    CHECK_STATUS(carematch_result_copy(r, all, n, NULL), CAREMATCH_NULL_ARGUMENT);
    test_review_stream(r, all, n);

    /* The data-quality report: the shipped GP file has 137 NHS numbers failing the check. */
    uint64_t invalid = 0;
    size_t qlen = 0;
    CHECK_STATUS(carematch_result_quality(r, NULL, NULL, 0, &qlen), CAREMATCH_BUFFER_TOO_SMALL);
    char *quality = malloc(qlen);
    CHECK_STATUS(carematch_result_quality(r, &invalid, quality, qlen, &written), CAREMATCH_OK);
    CHECK(invalid >= 137);
    CHECK(strstr(quality, "check digit") != NULL && strstr(quality, "gp.csv") != NULL);
    free(quality);
    CHECK_STATUS(carematch_result_quality(NULL, &invalid, NULL, 0, &qlen), CAREMATCH_NULL_ARGUMENT);

    /* The pairs file text: header, then one line per pair. */
    size_t csv_len = 0;
    CHECK_STATUS(carematch_result_csv(r, NULL, 0, &csv_len), CAREMATCH_BUFFER_TOO_SMALL);
    char *csv = malloc(csv_len);
    CHECK_STATUS(carematch_result_csv(r, csv, csv_len, &written), CAREMATCH_OK);
    CHECK(written == csv_len - 1);
    CHECK(strncmp(csv, "left_id,right_id,match_weight,match_probability,decision,rule,reason\n", 69) == 0);
    size_t lines = 0;
    for (size_t i = 0; i < written; i++) lines += csv[i] == '\n';
    CHECK(lines == n + 1);
    free(csv);
    CHECK_STATUS(carematch_result_csv(NULL, NULL, 0, &csv_len), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_result_csv(r, NULL, 0, NULL), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_result_copy(r, NULL, n, &written), CAREMATCH_NULL_ARGUMENT);

    /* Rule names, record ids, person ids, explanation. */
    char buf[4096];
    int32_t rule = -1;
    for (size_t i = 0; i < n && rule < 0; i++) rule = all[i].rule;
    CHECK_STATUS(carematch_result_rule_name(r, rule, buf, sizeof buf, &written), CAREMATCH_OK);
    CHECK(written > 0 && strlen(buf) == written);
    CHECK_STATUS(carematch_result_rule_name(r, -1, buf, sizeof buf, &written),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_result_rule_name(r, 999, buf, sizeof buf, &written),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_result_rule_name(NULL, 0, buf, sizeof buf, &written),
                 CAREMATCH_NULL_ARGUMENT);
    char left_id[32], right_id[32];
    CHECK_STATUS(carematch_result_record_id(r, 0, all[0].left, left_id, sizeof left_id, &written),
                 CAREMATCH_OK);
    CHECK(strncmp(left_id, "GP", 2) == 0);
    CHECK_STATUS(
        carematch_result_record_id(r, 1, all[0].right, right_id, sizeof right_id, &written),
        CAREMATCH_OK);
    CHECK(right_id[0] == 'H');
    CHECK_STATUS(carematch_result_record_id(r, 2, 0, buf, sizeof buf, &written),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_result_record_id(r, 0, 1000000, buf, sizeof buf, &written),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_result_record_id(r, 0, 0, buf, 2, &written),
                 CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(written == 11); /* "GP00000001" and its NUL */
    CHECK_STATUS(carematch_result_record_id(NULL, 0, 0, buf, sizeof buf, &written),
                 CAREMATCH_NULL_ARGUMENT);
    /* A matched pair is one person. */
    size_t k = 0;
    while (k < n && all[k].decision != CAREMATCH_DECISION_MATCH) k++;
    char pa[32], pb[32];
    CHECK_STATUS(carematch_result_person_id(r, 0, all[k].left, pa, sizeof pa, &written),
                 CAREMATCH_OK);
    CHECK_STATUS(carematch_result_person_id(r, 1, all[k].right, pb, sizeof pb, &written),
                 CAREMATCH_OK);
    CHECK(pa[0] == 'P' && strlen(pa) == 17 && strcmp(pa, pb) == 0);
    CHECK_STATUS(carematch_result_person_id(r, 0, 1000000, pa, sizeof pa, &written),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_result_person_id(NULL, 0, 0, pa, sizeof pa, &written),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_result_explain(r, k, buf, sizeof buf, &written), CAREMATCH_OK);
    CHECK(strstr(buf, "\"comparisons\"") != NULL && strstr(buf, "\"nhs_number\"") != NULL);
    CHECK_STATUS(carematch_result_explain(r, n, buf, sizeof buf, &written),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_result_explain(r, k, buf, 4, &written), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK_STATUS(carematch_result_explain(NULL, 0, buf, sizeof buf, &written),
                 CAREMATCH_NULL_ARGUMENT);

    /* Evaluation against the shipped truth file. */
    static char tl[6000][16], tr[6000][16];
    int t = read_pairs("examples/data/truth.csv", tl, tr, 6000);
    CHECK(t > 4000);
    carematch_str *lefts = calloc((size_t)t, sizeof *lefts);
    carematch_str *rights = calloc((size_t)t, sizeof *rights);
    for (int i = 0; i < t; i++) {
        lefts[i] = (carematch_str){tl[i], strlen(tl[i])};
        rights[i] = (carematch_str){tr[i], strlen(tr[i])};
    }
    carematch_evaluation e;
    CHECK_STATUS(carematch_result_evaluate(r, lefts, rights, (size_t)t, &e), CAREMATCH_OK);
    CHECK(e.precision > 0.99 && e.recall > 0.95 && e.f1 > 0.97);
    CHECK(e.true_positives + e.false_positives == (uint64_t)matched);
    CHECK_STATUS(carematch_result_evaluate(r, NULL, rights, (size_t)t, &e),
                 CAREMATCH_NULL_ARGUMENT);
    lefts[3] = (carematch_str){"\xff", 1};
    CHECK_STATUS(carematch_result_evaluate(r, lefts, rights, (size_t)t, &e),
                 CAREMATCH_INVALID_UTF8);
    CHECK(strstr(last_error(), "truth left id 3") != NULL);
    CHECK_STATUS(carematch_result_evaluate(r, NULL, NULL, 0, &e), CAREMATCH_OK);
    CHECK(e.recall == 0.0 && e.false_negatives == 0);
    free(lefts);
    free(rights);
    free(all);
    carematch_result_free(r);
    carematch_result_free(NULL);

    /* Dedupe of one batch, training in place (model NULL). */
    carematch_result *d = NULL;
    CHECK_STATUS(carematch_dedupe(NULL, m, &d), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_dedupe(h, NULL, &d), CAREMATCH_OK);
    CHECK_STATUS(carematch_result_len(d, &n), CAREMATCH_OK);
    CHECK_STATUS(carematch_result_person_id(d, 1, 0, pa, sizeof pa, &written), CAREMATCH_OK);
    carematch_result_free(d);
    carematch_batch_free(gp);
    carematch_batch_free(h);
}

static int hex_to_bytes(const char *hex, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return 0;
        out[i] = (uint8_t)v;
    }
    return 1;
}

static void test_pseudonymiser(void) {
    FILE *f = fopen(out_path("vectors.tsv"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[1024], key_hex[80] = {0}, project[64] = {0};
    unsigned version = 0;
    CHECK(fgets(line, sizeof line, f) != NULL);
    CHECK(sscanf(line, "%79s %63s %u", key_hex, project, &version) == 3);
    uint8_t key[32];
    CHECK(hex_to_bytes(key_hex, key, 32));
    carematch_pseudonymiser *p = NULL;
    CHECK_STATUS(carematch_pseudonymiser_new(key, 31, project, strlen(project), version, &p),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK(strstr(last_error(), "32 bytes") != NULL);
    CHECK_STATUS(carematch_pseudonymiser_new(NULL, 32, project, strlen(project), version, &p),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_pseudonymiser_new(key, 32, "\xff", 1, version, &p),
                 CAREMATCH_INVALID_UTF8);
    CHECK(p == NULL);
    CHECK_STATUS(carematch_pseudonymiser_new(key, 32, project, strlen(project), version, &p),
                 CAREMATCH_OK);
    int vectors = 0, equal = 0, normalised = 0, pairs = 0;
    carematch_model *fixed = NULL;
    {
        /* The fixed model of the comparison vectors. */
        FILE *mf = fopen(out_path("vectors_model.json"), "r");
        static char mjson[1 << 16];
        size_t mlen = mf ? fread(mjson, 1, sizeof mjson, mf) : 0;
        if (mf) fclose(mf);
        CHECK_STATUS(carematch_model_from_json(mjson, mlen, &fixed), CAREMATCH_OK);
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *kind = strtok(line, "\t"), *a = strtok(NULL, "\t"), *b = strtok(NULL, "\t");
        char *want = strtok(NULL, "\t");
        if (!kind || !a || !b) continue;
        if (!want) want = "";
        char got[600];
        size_t written = 0;
        if (kind[0] == 'T') {
            vectors++;
            if (carematch_pseudonymiser_token(p, a, strlen(a), b, strlen(b), got, sizeof got,
                                              &written) == CAREMATCH_OK &&
                strcmp(got, want) == 0) {
                equal++;
            } else {
                fprintf(stderr, "vector %s: got %s want %s\n", a, got, want);
            }
        } else if (kind[0] == 'N') {
            uint32_t role = (uint32_t)atoi(a);
            carematch_status s = carematch_normalise(role, b, strlen(b), got, sizeof got, &written);
            int ok = want[0] == '!' ? (s == CAREMATCH_INPUT_ERROR &&
                                       strstr(last_error(), want + 1) != NULL &&
                                       strstr(last_error(), b) == NULL)
                                    : (s == CAREMATCH_OK && strcmp(got, want) == 0);
            CHECK(ok);
            if (!ok) fprintf(stderr, "normalise role %u: got %s want %s\n", role, got, want);
            normalised++;
        } else if (kind[0] == 'P') {
            char lp[1200], rp[1200];
            snprintf(lp, sizeof lp, "%s/pair%s_left.csv", out_path(""), a);
            snprintf(rp, sizeof rp, "%s/pair%s_right.csv", out_path(""), a);
            carematch_batch *lb = NULL, *rb = NULL;
            CHECK_STATUS(carematch_batch_read_csv(lp, strlen(lp), &lb), CAREMATCH_OK);
            CHECK_STATUS(carematch_batch_read_csv(rp, strlen(rp), &rb), CAREMATCH_OK);
            static char e[4096];
            CHECK_STATUS(carematch_model_explain_pair(fixed, lb, 0, rb, 0, e, sizeof e, &written),
                         CAREMATCH_OK);
            /* Every expected level appears, in order, and the total agrees. */
            const char *at = e;
            char levels[600];
            snprintf(levels, sizeof levels, "%s", b);
            int in_order = 1;
            for (char *lv = strtok(levels, ","); lv; lv = strtok(NULL, ",")) {
                char quoted[80];
                snprintf(quoted, sizeof quoted, "\"level\":\"%s\"", lv);
                const char *hit = strstr(at, quoted);
                if (!hit) in_order = 0; else at = hit + strlen(quoted);
            }
            CHECK(in_order);
            const char *mw = strstr(e, "\"match_weight\":");
            CHECK(mw != NULL && fabs(strtod(mw + 15, NULL) - strtod(want, NULL)) < 1e-9);
            CHECK_STATUS(carematch_model_explain_pair(fixed, lb, 1, rb, 0, e, sizeof e, &written),
                         CAREMATCH_INVALID_ARGUMENT);
            CHECK_STATUS(carematch_model_explain_pair(NULL, lb, 0, rb, 0, e, sizeof e, &written),
                         CAREMATCH_NULL_ARGUMENT);
            CHECK_STATUS(carematch_model_explain_pair(fixed, lb, 0, rb, 0, e, 2, &written),
                         CAREMATCH_BUFFER_TOO_SMALL);
            carematch_batch_free(lb);
            carematch_batch_free(rb);
            pairs++;
        }
    }
    carematch_model_free(fixed);
    CHECK(normalised >= 10 && pairs >= 3);
    char nb[16];
    size_t nw = 0;
    CHECK_STATUS(carematch_normalise(99, "x", 1, nb, sizeof nb, &nw), CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_normalise(CAREMATCH_ROLE_SURNAME, "\xff", 1, nb, sizeof nb, &nw),
                 CAREMATCH_INVALID_UTF8);
    CHECK_STATUS(carematch_normalise(CAREMATCH_ROLE_SURNAME, "Smith", 5, nb, 2, &nw),
                 CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(nw == 6);
    fclose(f);
    CHECK(vectors >= 10);
    CHECK(equal == vectors);
    char buf[64];
    size_t written = 0;
    CHECK_STATUS(carematch_pseudonymiser_token(p, "nope.tok", 8, "x", 1, buf, sizeof buf, &written),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_pseudonymiser_token(p, "dob.tok", 7, "1980-02-01", 10, buf, 8, &written),
                 CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(written == 33);
    CHECK_STATUS(carematch_pseudonymiser_token(NULL, "dob.tok", 7, "x", 1, buf, 64, &written),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_pseudonymiser_token(p, "dob.tok", 7, "\xff", 1, buf, 64, &written),
                 CAREMATCH_INVALID_UTF8);

    /* Encoded batches link with each other. */
    carematch_batch *gp = gp_batch(), *h = hospital_batch(), *eg = NULL, *eh = NULL;
    CHECK_STATUS(carematch_pseudonymiser_encode(p, gp, 2, &eg), CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_pseudonymiser_encode(p, NULL, 0, &eg), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_pseudonymiser_encode(p, gp, 0, &eg), CAREMATCH_OK);
    CHECK_STATUS(carematch_pseudonymiser_encode(p, h, 0, &eh), CAREMATCH_OK);
    /* Encoded records out as Arrow: a row per record, the id and scheme never null, and no
     * column holding a clear-text name. */
    struct ArrowArrayStream enc;
    CHECK_STATUS(carematch_batch_arrow_stream(eg, &enc), CAREMATCH_OK);
    struct ArrowSchema es;
    CHECK(enc.get_schema(&enc, &es) == 0);
    CHECK(es.n_children > 10);
    CHECK(strcmp(es.children[0]->name, "id") == 0);
    for (int64_t c = 0; c < es.n_children; c++) {
        CHECK(strcmp(es.children[c]->name, "given_name") != 0);
        CHECK(strcmp(es.children[c]->name, "surname") != 0);
    }
    es.release(&es);
    size_t gp_rows = 0;
    CHECK_STATUS(carematch_batch_len(gp, &gp_rows), CAREMATCH_OK);
    int64_t enc_rows = 0;
    struct ArrowArray ea;
    while (enc.get_next(&enc, &ea) == 0 && ea.release != NULL) {
        CHECK(ea.children[0]->null_count == 0 && ea.children[1]->null_count == 0);
        enc_rows += ea.length;
        ea.release(&ea);
    }
    CHECK(enc_rows == (int64_t)gp_rows);
    enc.release(&enc);
    carematch_result *r = NULL;
    CHECK_STATUS(carematch_link(eg, eh, NULL, &r), CAREMATCH_OK);
    size_t n = 0;
    CHECK_STATUS(carematch_result_len(r, &n), CAREMATCH_OK);
    CHECK(n > 4000);
    carematch_result_free(r);
    carematch_batch_free(eg);
    carematch_batch_free(eh);
    carematch_batch_free(gp);
    carematch_batch_free(h);
    carematch_pseudonymiser_free(p);
    carematch_pseudonymiser_free(NULL);
}

/* Two threads query one index while a third inserts: every answer is a match for the same
 * best candidate (inserted records have other names). */
struct query_job {
    carematch_index *ix;
    int ok;
};

static void *query_many(void *arg) {
    struct query_job *job = arg;
    carematch_str names[] = {S("id"), S("first_name"), S("last_name"), S("dob"), S("postcode")};
    carematch_str values[] = {S("Q"), S("Nathan"), S("Ellis"), S("13/01/1982"), S("RM3 1AZ")};
    job->ok = 1;
    for (int i = 0; i < 200; i++) {
        carematch_answer *a = NULL;
        char id[32];
        size_t w = 0;
        uint32_t d = 0;
        if (carematch_index_query(job->ix, names, values, 5, 3, &a) != CAREMATCH_OK ||
            carematch_answer_decision(a, &d) != CAREMATCH_OK || d != CAREMATCH_DECISION_MATCH ||
            carematch_answer_candidate_id(a, 0, id, sizeof id, &w) != CAREMATCH_OK ||
            strcmp(id, "GP00001808") != 0) {
            job->ok = 0;
        }
        carematch_answer_free(a);
    }
    return NULL;
}

static void *insert_many(void *arg) {
    struct query_job *job = arg;
    carematch_str names[] = {S("id"), S("first_name"), S("last_name"), S("dob")};
    job->ok = 1;
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "T%03d", i);
        carematch_str values[] = {{id, strlen(id)}, S("Zed"), S("Quint"), S("2001-01-01")};
        if (carematch_index_insert(job->ix, names, values, 4) != CAREMATCH_OK) job->ok = 0;
    }
    return NULL;
}

static void test_index_threads(carematch_model *m) {
    carematch_batch *gp = gp_batch();
    carematch_index *ix = NULL;
    CHECK_STATUS(carematch_index_build(gp, m, 0, &ix), CAREMATCH_OK);
    struct query_job jobs[3] = {{ix, 0}, {ix, 0}, {ix, 0}};
    pthread_t t[3];
    pthread_create(&t[0], NULL, query_many, &jobs[0]);
    pthread_create(&t[1], NULL, query_many, &jobs[1]);
    pthread_create(&t[2], NULL, insert_many, &jobs[2]);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    CHECK(jobs[0].ok && jobs[1].ok && jobs[2].ok);
    size_t n = 0;
    CHECK_STATUS(carematch_index_len(ix, &n), CAREMATCH_OK);
    CHECK(n == 8064 + 100);
    carematch_index_free(ix);
    carematch_batch_free(gp);
}

static void test_index(carematch_model *m) {
    carematch_batch *gp = gp_batch();
    carematch_index *ix = NULL;
    CHECK_STATUS(carematch_index_build(gp, NULL, 1, &ix), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_index_build(gp, m, 2, &ix), CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_index_build(gp, m, 1, &ix), CAREMATCH_OK);
    size_t n = 0;
    CHECK_STATUS(carematch_index_len(ix, &n), CAREMATCH_OK);
    CHECK(n == 8064);
    CHECK_STATUS(carematch_index_len(NULL, &n), CAREMATCH_NULL_ARGUMENT);

    /* H00000002 of the hospital file (Nathan Ellis) matches GP00001808. */
    carematch_str names[] = {S("id"), S("first_name"), S("last_name"), S("dob"), S("gender"),
                             S("postcode")};
    carematch_str values[] = {S("H00000002"), S("Nathan"), S("Ellis"), S("13/01/1982"),
                              S("Male"), S("RM3 1AZ")};
    carematch_answer *a = NULL;
    CHECK_STATUS(carematch_index_query(ix, names, values, 6, 5, &a), CAREMATCH_OK);
    uint32_t decision = 0;
    CHECK_STATUS(carematch_answer_decision(a, &decision), CAREMATCH_OK);
    CHECK(decision == CAREMATCH_DECISION_MATCH);
    CHECK_STATUS(carematch_answer_len(a, &n), CAREMATCH_OK);
    CHECK(n >= 1 && n <= 5);
    carematch_candidate c;
    CHECK_STATUS(carematch_answer_candidate(a, 0, &c), CAREMATCH_OK);
    CHECK(c.decision == CAREMATCH_DECISION_MATCH && c.match_probability > 0.99);
    CHECK_STATUS(carematch_answer_candidate(a, n, &c), CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_answer_candidate(NULL, 0, &c), CAREMATCH_NULL_ARGUMENT);
    char buf[4096];
    size_t written = 0;
    CHECK_STATUS(carematch_answer_candidate_id(a, 0, buf, sizeof buf, &written), CAREMATCH_OK);
    CHECK(strcmp(buf, "GP00001808") == 0);
    CHECK_STATUS(carematch_answer_candidate_id(a, n, buf, sizeof buf, &written),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_answer_json(a, buf, sizeof buf, &written), CAREMATCH_OK);
    CHECK(strncmp(buf, "{\"id\":\"H00000002\",\"decision\":\"match\"", 35) == 0);
    CHECK_STATUS(carematch_answer_json(a, buf, 3, &written), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK_STATUS(carematch_answer_json(NULL, buf, sizeof buf, &written), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_answer_decision(a, NULL), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_answer_len(a, NULL), CAREMATCH_NULL_ARGUMENT);
    carematch_answer_free(a);
    carematch_answer_free(NULL);

    /* With options: explanations in the JSON; a floor of 0 keeps at least as many. */
    a = NULL;
    CHECK_STATUS(carematch_index_query_options(ix, names, values, 6, 5, NAN, 1, &a), CAREMATCH_OK);
    CHECK_STATUS(carematch_answer_json(a, buf, sizeof buf, &written), CAREMATCH_OK);
    CHECK(strstr(buf, "\"explanation\"") != NULL && strstr(buf, "\"prior\"") != NULL);
    size_t explained = 0, all = 0;
    CHECK_STATUS(carematch_answer_len(a, &explained), CAREMATCH_OK);
    carematch_answer_free(a);
    CHECK_STATUS(carematch_index_query_options(ix, names, values, 6, 5, 0.0, 0, &a), CAREMATCH_OK);
    CHECK_STATUS(carematch_answer_len(a, &all), CAREMATCH_OK);
    CHECK(all >= explained);
    CHECK_STATUS(carematch_answer_json(a, buf, sizeof buf, &written), CAREMATCH_OK);
    CHECK(strstr(buf, "\"explanation\"") == NULL);
    carematch_answer_free(a);
    CHECK_STATUS(carematch_index_query_options(ix, names, values, 6, 5, 1.5, 0, &a),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_index_query_options(ix, names, values, 6, 5, NAN, 2, &a),
                 CAREMATCH_INVALID_ARGUMENT);

    /* Wrong input: no id; a name that is not UTF-8; NULL arrays. */
    CHECK_STATUS(carematch_index_query(ix, names + 1, values + 1, 5, 5, &a),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK(strstr(last_error(), "no id") != NULL);
    carematch_str bad_names[] = {S("id"), {"\xff", 1}};
    CHECK_STATUS(carematch_index_query(ix, bad_names, values, 2, 5, &a), CAREMATCH_INVALID_UTF8);
    CHECK(strstr(last_error(), "name 1") != NULL);
    CHECK_STATUS(carematch_index_query(ix, NULL, values, 2, 5, &a), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_index_query(ix, names, values, 6, 5, NULL), CAREMATCH_NULL_ARGUMENT);

    /* Insert, update, remove. */
    carematch_str new_values[] = {S("NEW-1"), S("Nathan"), S("Ellis"), S("13/01/1982"),
                                  S("Male"), S("RM3 1AZ")};
    CHECK_STATUS(carematch_index_insert(ix, names, new_values, 6), CAREMATCH_OK);
    CHECK_STATUS(carematch_index_insert(ix, names, new_values, 6), CAREMATCH_INVALID_ARGUMENT);
    CHECK(strstr(last_error(), "already holds") != NULL);
    CHECK_STATUS(carematch_index_len(ix, &n), CAREMATCH_OK);
    CHECK(n == 8065);
    CHECK_STATUS(carematch_index_update(ix, names, new_values, 6), CAREMATCH_OK);
    CHECK_STATUS(carematch_index_remove(ix, "NEW-1", 5), CAREMATCH_OK);
    CHECK_STATUS(carematch_index_remove(ix, "NEW-1", 5), CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_index_update(ix, names, new_values, 6), CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_index_insert(NULL, names, new_values, 6), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_index_update(NULL, names, new_values, 6), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_index_remove(NULL, "x", 1), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_index_remove(ix, "\xff", 1), CAREMATCH_INVALID_UTF8);

    /* Save and load; a damaged file is refused with its name. */
    const char *path = out_path("pop.idx");
    CHECK_STATUS(carematch_index_save(ix, path, strlen(path)), CAREMATCH_OK);
    CHECK_STATUS(carematch_index_save(NULL, path, strlen(path)), CAREMATCH_NULL_ARGUMENT);
    carematch_index *back = NULL;
    CHECK_STATUS(carematch_index_load(path, strlen(path), &back), CAREMATCH_OK);
    CHECK_STATUS(carematch_index_len(back, &n), CAREMATCH_OK);
    CHECK(n == 8064);
    const char *bad = out_path("bad.idx");
    FILE *f = fopen(bad, "w");
    if (f) {
        fputs("CMINDEX", f);
        fclose(f);
    }
    carematch_index *none = NULL;
    CHECK_STATUS(carematch_index_load(bad, strlen(bad), &none), CAREMATCH_INPUT_ERROR);
    CHECK(strstr(last_error(), "bad.idx") != NULL);
    CHECK(none == NULL);
    CHECK_STATUS(carematch_index_load("missing.idx", 11, &none), CAREMATCH_IO_ERROR);
    carematch_index_free(back);
    carematch_index_free(ix);
    carematch_index_free(NULL);
    carematch_batch_free(gp);
}

/* Out-parameters are written only on success (ffi/README.md); the one exception is
 * CAREMATCH_BUFFER_TOO_SMALL, which writes the size needed to the length out-parameter and
 * nothing else. Every out-parameter is set to a sentinel, a failure is provoked, and the
 * sentinel must survive: for each exported function that has out-parameters. */
static max_align_t sentinel_object;
#define SENTINEL(type) ((type *)(void *)&sentinel_object)
#define SENTINEL_SIZE ((size_t)0x5e5e5e5eu)
#define SENTINEL_U64 ((uint64_t)0x5e5e5e5e5e5e5e5eu)

/* 1 if all `n` bytes at `p` are `byte`. */
static int all_bytes(const void *p, int byte, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != (unsigned char)byte) return 0;
    }
    return 1;
}

static void test_out_params_written_only_on_success(carematch_model *m) {
    const char *csv =
        "rec_id,nhs_number,given_name,surname,date_of_birth,sex,postcode,address\n"
        "A1,9434765919,Ann,Smith,1980-02-01,F,RM3 1AZ,1 High St\n"
        "A2,,Bob,Jones,1975-06-30,M,SW1A 1AA,2 Low Rd\n"
        "A3,123,Cy,Brown,not a date,X,nowhere,\n";
    size_t w = SENTINEL_SIZE;
    char buf[64];

    /* Batches. */
    carematch_batch *b = SENTINEL(carematch_batch);
    CHECK_STATUS(carematch_batch_new("\xff", 1, &b), CAREMATCH_INVALID_UTF8);
    CHECK(b == SENTINEL(carematch_batch));
    CHECK_STATUS(carematch_batch_read_csv("no/such.csv", 11, &b), CAREMATCH_IO_ERROR);
    CHECK(b == SENTINEL(carematch_batch));
    CHECK_STATUS(carematch_batch_from_csv("x", 1, "id,a\n1,2,3\n", 11, &b), CAREMATCH_INPUT_ERROR);
    CHECK(b == SENTINEL(carematch_batch));
    CHECK_STATUS(carematch_batch_len(NULL, &w), CAREMATCH_NULL_ARGUMENT);
    CHECK(w == SENTINEL_SIZE);
    carematch_batch *small = NULL;
    CHECK_STATUS(carematch_batch_from_csv("small", 5, csv, strlen(csv), &small), CAREMATCH_OK);

    /* normalise: an invalid value, an unknown role, a short buffer. */
    memset(buf, 'x', sizeof buf);
    CHECK_STATUS(carematch_normalise(CAREMATCH_ROLE_NHS_NUMBER, "12", 2, buf, sizeof buf, &w),
                 CAREMATCH_INPUT_ERROR);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));
    CHECK_STATUS(carematch_normalise(99, "x", 1, buf, sizeof buf, &w), CAREMATCH_INVALID_ARGUMENT);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));
    CHECK_STATUS(carematch_normalise(CAREMATCH_ROLE_SURNAME, "Smith", 5, buf, 3, &w),
                 CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(w == 6 && all_bytes(buf, 'x', sizeof buf));
    w = SENTINEL_SIZE;

    /* Models. */
    carematch_model *mo = SENTINEL(carematch_model);
    CHECK_STATUS(carematch_model_train(NULL, NULL, &mo), CAREMATCH_NULL_ARGUMENT);
    CHECK(mo == SENTINEL(carematch_model));
    CHECK_STATUS(carematch_model_from_json("{\"x\":1}", 7, &mo), CAREMATCH_CONFIG_ERROR);
    CHECK(mo == SENTINEL(carematch_model));
    CHECK_STATUS(carematch_model_load("missing.json", 12, &mo), CAREMATCH_IO_ERROR);
    CHECK(mo == SENTINEL(carematch_model));
    CHECK_STATUS(carematch_model_to_json(NULL, buf, sizeof buf, &w), CAREMATCH_NULL_ARGUMENT);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));
    CHECK_STATUS(carematch_model_explain_pair(m, small, 7, small, 0, buf, sizeof buf, &w),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));

    /* Link and dedupe, then the result's accessors. */
    carematch_result *r = SENTINEL(carematch_result);
    CHECK_STATUS(carematch_link(small, NULL, m, &r), CAREMATCH_NULL_ARGUMENT);
    CHECK(r == SENTINEL(carematch_result));
    CHECK_STATUS(carematch_dedupe(NULL, m, &r), CAREMATCH_NULL_ARGUMENT);
    CHECK(r == SENTINEL(carematch_result));
    r = NULL;
    CHECK_STATUS(carematch_link(small, small, m, &r), CAREMATCH_OK);
    size_t n = 0;
    CHECK_STATUS(carematch_result_len(r, &n), CAREMATCH_OK);
    CHECK(n >= 1);
    CHECK_STATUS(carematch_result_len(NULL, &w), CAREMATCH_NULL_ARGUMENT);
    CHECK(w == SENTINEL_SIZE);
    carematch_pair pair;
    memset(&pair, 0x5e, sizeof pair);
    CHECK_STATUS(carematch_result_get(r, n, &pair), CAREMATCH_INVALID_ARGUMENT);
    CHECK(all_bytes(&pair, 0x5e, sizeof pair));
    carematch_pair pairs[64];
    CHECK(n <= 64);
    memset(pairs, 0x5e, sizeof pairs);
    CHECK_STATUS(carematch_result_copy(r, pairs, n - 1, &w), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(w == n && all_bytes(pairs, 0x5e, sizeof pairs));
    w = SENTINEL_SIZE;
    CHECK_STATUS(carematch_result_copy(r, pairs, n, NULL), CAREMATCH_NULL_ARGUMENT);
    CHECK(all_bytes(pairs, 0x5e, sizeof pairs));
    CHECK_STATUS(carematch_result_csv(r, buf, 2, &w), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(w > 2 && all_bytes(buf, 'x', sizeof buf));
    w = SENTINEL_SIZE;
    CHECK_STATUS(carematch_result_rule_name(r, 999, buf, sizeof buf, &w),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));
    CHECK_STATUS(carematch_result_explain(r, n, buf, sizeof buf, &w), CAREMATCH_INVALID_ARGUMENT);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));
    CHECK_STATUS(carematch_result_record_id(r, 0, 1000, buf, sizeof buf, &w),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));
    CHECK_STATUS(carematch_result_person_id(r, 5, 0, buf, sizeof buf, &w),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));
    carematch_evaluation e;
    memset(&e, 0x5e, sizeof e);
    carematch_str bad_ids[] = {{"\xff", 1}};
    CHECK_STATUS(carematch_result_evaluate(r, bad_ids, bad_ids, 1, &e), CAREMATCH_INVALID_UTF8);
    CHECK(all_bytes(&e, 0x5e, sizeof e));
    /* The quality report: the invalid count is written on success only, never with the size. */
    uint64_t invalid = SENTINEL_U64;
    CHECK_STATUS(carematch_result_quality(r, &invalid, NULL, 0, &w), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(invalid == SENTINEL_U64 && w > 1);
    size_t need = w;
    w = SENTINEL_SIZE;
    CHECK_STATUS(carematch_result_quality(r, &invalid, buf, 2, &w), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(invalid == SENTINEL_U64 && w == need && all_bytes(buf, 'x', sizeof buf));
    char *report = malloc(need);
    CHECK_STATUS(carematch_result_quality(r, &invalid, report, need, NULL),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK(invalid == SENTINEL_U64);
    CHECK_STATUS(carematch_result_quality(NULL, &invalid, report, need, &w),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK(invalid == SENTINEL_U64);
    CHECK_STATUS(carematch_result_quality(r, &invalid, report, need, &w), CAREMATCH_OK);
    CHECK(invalid >= 2 && invalid != SENTINEL_U64 && w == need - 1); /* nhs 123, the date */
    free(report);
    w = SENTINEL_SIZE;
    carematch_result_free(r);

    /* Pseudonymiser. */
    uint8_t key[32] = {0};
    carematch_pseudonymiser *p = SENTINEL(carematch_pseudonymiser);
    CHECK_STATUS(carematch_pseudonymiser_new(key, 31, "p", 1, 1, &p), CAREMATCH_INVALID_ARGUMENT);
    CHECK(p == SENTINEL(carematch_pseudonymiser));
    CHECK_STATUS(carematch_pseudonymiser_new(key, 32, "\xff", 1, 1, &p), CAREMATCH_INVALID_UTF8);
    CHECK(p == SENTINEL(carematch_pseudonymiser));
    p = NULL;
    CHECK_STATUS(carematch_pseudonymiser_new(key, 32, "p", 1, 1, &p), CAREMATCH_OK);
    CHECK_STATUS(carematch_pseudonymiser_token(p, "nope.tok", 8, "x", 1, buf, sizeof buf, &w),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));
    carematch_batch *enc = SENTINEL(carematch_batch);
    CHECK_STATUS(carematch_pseudonymiser_encode(p, small, 2, &enc), CAREMATCH_INVALID_ARGUMENT);
    CHECK(enc == SENTINEL(carematch_batch));
    carematch_pseudonymiser_free(p);

    /* Index and answer. */
    carematch_index *ix = SENTINEL(carematch_index);
    CHECK_STATUS(carematch_index_build(small, m, 2, &ix), CAREMATCH_INVALID_ARGUMENT);
    CHECK(ix == SENTINEL(carematch_index));
    CHECK_STATUS(carematch_index_load("missing.idx", 11, &ix), CAREMATCH_IO_ERROR);
    CHECK(ix == SENTINEL(carematch_index));
    ix = NULL;
    CHECK_STATUS(carematch_index_build(small, m, 0, &ix), CAREMATCH_OK);
    CHECK_STATUS(carematch_index_len(NULL, &w), CAREMATCH_NULL_ARGUMENT);
    CHECK(w == SENTINEL_SIZE);
    carematch_str names[] = {S("rec_id"), S("surname")};
    carematch_str values[] = {S("Q1"), S("Smith")};
    carematch_answer *a = SENTINEL(carematch_answer);
    CHECK_STATUS(carematch_index_query(ix, names + 1, values + 1, 1, 3, &a),
                 CAREMATCH_INVALID_ARGUMENT); /* no id */
    CHECK(a == SENTINEL(carematch_answer));
    a = NULL;
    CHECK_STATUS(carematch_index_query(ix, names, values, 2, 3, &a), CAREMATCH_OK);
    uint32_t d = 0x5e5e5e5eu;
    CHECK_STATUS(carematch_answer_decision(NULL, &d), CAREMATCH_NULL_ARGUMENT);
    CHECK(d == 0x5e5e5e5eu);
    CHECK_STATUS(carematch_answer_len(NULL, &w), CAREMATCH_NULL_ARGUMENT);
    CHECK(w == SENTINEL_SIZE);
    size_t candidates = 0;
    CHECK_STATUS(carematch_answer_len(a, &candidates), CAREMATCH_OK);
    carematch_candidate c;
    memset(&c, 0x5e, sizeof c);
    CHECK_STATUS(carematch_answer_candidate(a, candidates, &c), CAREMATCH_INVALID_ARGUMENT);
    CHECK(all_bytes(&c, 0x5e, sizeof c));
    CHECK_STATUS(carematch_answer_candidate_id(a, candidates, buf, sizeof buf, &w),
                 CAREMATCH_INVALID_ARGUMENT);
    CHECK(w == SENTINEL_SIZE && all_bytes(buf, 'x', sizeof buf));
    CHECK_STATUS(carematch_answer_json(a, buf, 3, &w), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(w > 3 && all_bytes(buf, 'x', sizeof buf));
    carematch_answer_free(a);
    carematch_index_free(ix);

    /* The last error: a NULL buffer with a length. */
    w = SENTINEL_SIZE;
    CHECK_STATUS(carematch_last_error_message(NULL, 16, &w), CAREMATCH_NULL_ARGUMENT);
    CHECK(w == SENTINEL_SIZE);
    carematch_batch_free(small);
}

/* A small batch of CSV text. */
static carematch_batch *csv_batch(const char *text) {
    carematch_batch *b = NULL;
    CHECK_STATUS(carematch_batch_from_csv("t", 1, text, strlen(text), &b), CAREMATCH_OK);
    return b;
}

/* The number of rows and columns of the first record batch of `st`, which is released. */
static void stream_shape(struct ArrowArrayStream *st, int64_t *rows, int64_t *cols,
                         char *first_name, size_t cap) {
    struct ArrowSchema schema;
    struct ArrowArray a;
    *rows = -1;
    *cols = -1;
    if (st->release == NULL) {
        return; /* not written: the call failed */
    }
    if (st->get_schema(st, &schema) == 0) {
        *cols = schema.n_children;
        if (schema.n_children > 0 && cap > 0) {
            snprintf(first_name, cap, "%s", schema.children[0]->name);
        }
        schema.release(&schema);
    }
    if (st->get_next(st, &a) == 0 && a.release != NULL) {
        *rows = a.length;
        a.release(&a);
    }
    st->release(st);
}

/* The kernel of a link run in parts (Spark): made from samples, its JSON, its three steps on
 * Arrow streams, and its errors: no term frequencies, a bad side, bad JSON. */
static void test_kernel(carematch_model *m) {
    carematch_batch *gp = gp_batch(), *h = hospital_batch();
    carematch_kernel *k = NULL;
    CHECK_STATUS(carematch_kernel_new(NULL, h, m, NULL, 0, &k), CAREMATCH_NULL_ARGUMENT);
    CHECK_STATUS(carematch_kernel_new(gp, h, m, "{\"labels\": []}", 14, &k),
                 CAREMATCH_CONFIG_ERROR);
    CHECK(k == NULL);
    CHECK_STATUS(carematch_kernel_new(gp, h, m, NULL, 0, &k), CAREMATCH_OK);
    size_t need = 0;
    CHECK_STATUS(carematch_kernel_to_json(k, NULL, 0, &need), CAREMATCH_BUFFER_TOO_SMALL);
    char *json = malloc(need + 4096);
    CHECK(json != NULL);
    CHECK_STATUS(carematch_kernel_to_json(k, json, need, &need), CAREMATCH_OK);
    CHECK(strstr(json, "\"format\":\"carematch-kernel\"") != NULL);

    /* Step 1 on the GP file: one row per record, the id first. */
    struct ArrowArrayStream in, out;
    CHECK_STATUS(carematch_batch_arrow_stream(gp, &in), CAREMATCH_OK);
    CHECK_STATUS(carematch_kernel_prepare(k, 2, &in, &out), CAREMATCH_INVALID_ARGUMENT);
    CHECK_STATUS(carematch_batch_arrow_stream(gp, &in), CAREMATCH_OK);
    CHECK_STATUS(carematch_kernel_prepare(k, 0, &in, &out), CAREMATCH_OK);
    int64_t rows = 0, cols = 0;
    char name[32] = "";
    stream_shape(&out, &rows, &cols, name, sizeof name);
    CHECK(rows == 8064 && cols > 4 && strcmp(name, "_cm_id") == 0);

    /* Steps 2 and 3 on two pairs; scoring needs the term frequencies first. */
    carematch_batch *l = csv_batch(
        "rec_id,nhs_number,given_name,surname,date_of_birth,sex,postcode,address\n"
        "G1,9434765919,Ann,Smith,1980-02-01,F,LS1 4AP,1 High Street\n"
        "G2,,Bob,Jones,1970-01-01,M,M1 1AE,2 Low Road\n");
    carematch_batch *r = csv_batch(
        "id,nhs_no,first_name,last_name,dob,gender,postcode,address_line_1\n"
        "H1,9434765919,ANN,SMITH,01/02/1980,Female,LS1 4AP,1 High St\n"
        "H2,,Robert,Jones,01/01/1970,Male,M1 1AE,2 Low Rd\n");
    struct ArrowArrayStream ls, rs;
    CHECK_STATUS(carematch_batch_arrow_stream(l, &ls), CAREMATCH_OK);
    CHECK_STATUS(carematch_batch_arrow_stream(r, &rs), CAREMATCH_OK);
    CHECK_STATUS(carematch_kernel_score(k, &ls, &rs, &out), CAREMATCH_CONFIG_ERROR);
    CHECK(strstr(last_error(), "term frequencies") != NULL);
    /* Frequencies: every term-frequency column the JSON names, with no counts. */
    char *end = strrchr(json, '}');
    CHECK(end != NULL);
    char *at = end;
    at += sprintf(at, ",\"frequencies\":{\"rows\":14094,\"counts\":{");
    const char *p = json;
    int first = 1;
    while ((p = strstr(p, "\"column\":\"_cm_tf_")) != NULL && p < end) {
        p += 10;
        const char *q = strchr(p, '"');
        if (q == NULL) break;
        at += sprintf(at, "%s\"%.*s\":{}", first ? "" : ",", (int)(q - p), p);
        first = 0;
        p = q;
    }
    at += sprintf(at, "}}}");
    carematch_kernel *k2 = NULL;
    CHECK_STATUS(carematch_kernel_from_json("{}", 2, &k2), CAREMATCH_CONFIG_ERROR);
    CHECK_STATUS(carematch_kernel_from_json(json, strlen(json), &k2), CAREMATCH_OK);
    CHECK_STATUS(carematch_batch_arrow_stream(l, &ls), CAREMATCH_OK);
    CHECK_STATUS(carematch_batch_arrow_stream(r, &rs), CAREMATCH_OK);
    CHECK_STATUS(carematch_kernel_score(k2, &ls, &rs, &out), CAREMATCH_OK);
    stream_shape(&out, &rows, &cols, name, sizeof name);
    CHECK(rows == 2 && cols == 7 && strcmp(name, "rule") == 0);
    CHECK_STATUS(carematch_batch_arrow_stream(l, &ls), CAREMATCH_OK);
    CHECK_STATUS(carematch_batch_arrow_stream(r, &rs), CAREMATCH_OK);
    CHECK_STATUS(carematch_kernel_decide(k2, &ls, &rs, &out), CAREMATCH_OK);
    stream_shape(&out, &rows, &cols, name, sizeof name);
    CHECK(rows == 2 && cols == 7 && strcmp(name, "decision") == 0);
    free(json);
    carematch_kernel_free(k2);
    carematch_kernel_free(k);
    carematch_kernel_free(NULL);
    carematch_batch_free(l);
    carematch_batch_free(r);
    carematch_batch_free(gp);
    carematch_batch_free(h);
}

int main(void) {
    CHECK(strcmp(carematch_version(), CAREMATCH_VERSION) == 0);
    CHECK(strcmp(carematch_status_name(CAREMATCH_BUFFER_TOO_SMALL), "CAREMATCH_BUFFER_TOO_SMALL") ==
          0);
    test_batches();
    test_arrow_stream();
    carematch_model *m = NULL;
    test_models(&m);
    test_link(m);
    test_config(m);
    test_pseudonymiser();
    test_index(m);
    test_index_threads(m);
    test_kernel(m);
    test_out_params_written_only_on_success(m);
    carematch_model_free(m);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
