/*
 * The check macros of the C tests: count passes and failures, print a line per failure.
 * Each test program includes this once and prints "N passed, N failed" at the end.
 */
#ifndef CAREMATCH_TESTS_CHECK_H
#define CAREMATCH_TESTS_CHECK_H

#include <stdio.h>

#include "carematch.h"

static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                  \
    } while (0)

/* A status check that prints, on failure, both names and the call's last error message. */
#define CHECK_STATUS(call, want)                                                        \
    do {                                                                                \
        carematch_status got_ = (call);                                                 \
        if (got_ == (want)) {                                                           \
            passed++;                                                                   \
        } else {                                                                        \
            failed++;                                                                   \
            char msg_[512];                                                             \
            size_t n_ = 0;                                                              \
            if (carematch_last_error_message(msg_, sizeof msg_, &n_) != CAREMATCH_OK) { \
                msg_[0] = 0;                                                            \
            }                                                                           \
            fprintf(stderr, "FAIL %s:%d: %s returned %s, want %s (%s)\n", __FILE__,     \
                    __LINE__, #call, carematch_status_name(got_),                       \
                    carematch_status_name(want), msg_);                                 \
        }                                                                               \
    } while (0)

#endif
