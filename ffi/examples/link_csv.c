/*
 * Links two CSV files with the carematch C API alone and writes the pairs as CSV on stdout:
 *
 *     link_csv left.csv right.csv > pairs.csv
 *
 * left_id,right_id,match_weight,match_probability,decision,rule — the first six columns of
 * `carematch link --out` (the pair struct has no reason). A model is trained on the two files
 * first. On any failure it prints the status and carematch's message (which names the file,
 * line or column, never a value) and exits 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carematch.h"

static int fail(const char *what, carematch_status s) {
    char msg[1024];
    size_t n = 0;
    if (carematch_last_error_message(msg, sizeof msg, &n) != CAREMATCH_OK) msg[0] = 0;
    fprintf(stderr, "link_csv: %s: %s: %s\n", what, carematch_status_name(s), msg);
    return 2;
}

static const char *decision_name(uint32_t d) {
    switch (d) {
    case CAREMATCH_DECISION_MATCH: return "match";
    case CAREMATCH_DECISION_REVIEW: return "review";
    case CAREMATCH_DECISION_AMBIGUOUS: return "ambiguous";
    default: return "no_match";
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: link_csv left.csv right.csv\n");
        return 2;
    }
    int code = 0;
    carematch_batch *left = NULL, *right = NULL;
    carematch_result *result = NULL;
    carematch_pair *pairs = NULL;
    carematch_status s;

    /* 1. Read both files into batches (columns recognised by their header names). */
    if ((s = carematch_batch_read_csv(argv[1], strlen(argv[1]), &left)) != CAREMATCH_OK) {
        code = fail("reading the left file", s);
        goto done;
    }
    if ((s = carematch_batch_read_csv(argv[2], strlen(argv[2]), &right)) != CAREMATCH_OK) {
        code = fail("reading the right file", s);
        goto done;
    }
    /* 2. Link them; with no model (NULL) one is trained on the two files first. */
    if ((s = carematch_link(left, right, NULL, &result)) != CAREMATCH_OK) {
        code = fail("linking", s);
        goto done;
    }
    /* 3. Copy the pairs out in bulk: ask for the count, then fill an array. */
    size_t n = 0;
    s = carematch_result_copy(result, NULL, 0, &n);
    if (s != CAREMATCH_OK && s != CAREMATCH_BUFFER_TOO_SMALL) {
        code = fail("counting pairs", s);
        goto done;
    }
    pairs = calloc(n ? n : 1, sizeof *pairs);
    if (!pairs || (s = carematch_result_copy(result, pairs, n, &n)) != CAREMATCH_OK) {
        code = pairs ? fail("copying pairs", s) : 2;
        goto done;
    }
    /* 4. Write them with their record ids and rule names. */
    printf("left_id,right_id,match_weight,match_probability,decision,rule\n");
    for (size_t i = 0; i < n; i++) {
        char l[256], r[256], rule[128] = "";
        size_t w = 0;
        if (carematch_result_record_id(result, 0, pairs[i].left, l, sizeof l, &w) != CAREMATCH_OK ||
            carematch_result_record_id(result, 1, pairs[i].right, r, sizeof r, &w) != CAREMATCH_OK) {
            code = fail("reading ids", CAREMATCH_BUFFER_TOO_SMALL);
            goto done;
        }
        if (pairs[i].rule >= 0 &&
            carematch_result_rule_name(result, pairs[i].rule, rule, sizeof rule, &w) != CAREMATCH_OK) {
            rule[0] = 0;
        }
        printf("%s,%s,%.4f,%.6f,%s,%s\n", l, r, pairs[i].match_weight, pairs[i].match_probability,
               decision_name(pairs[i].decision), rule);
    }
    fprintf(stderr, "link_csv: %zu pairs\n", n);
done:
    free(pairs);
    carematch_result_free(result);
    carematch_batch_free(left);
    carematch_batch_free(right);
    return code;
}
