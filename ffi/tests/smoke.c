/*
 * Smoke test of the carematch C ABI, compiled as C11 with -Wall -Wextra -Werror and run under
 * AddressSanitizer/UBSan (static library) and valgrind (shared library) by ffi/run-c-tests.sh.
 *
 * Prints one line per failed check and ends with "N passed, N failed"; exits non-zero on any
 * failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carematch.h"

#include "check.h"

static void test_version(void) {
    const char *version = carematch_version();
    CHECK(version != NULL);
    CHECK(version != NULL && strcmp(version, CAREMATCH_VERSION) == 0);
    /* The same static string every time. */
    CHECK(carematch_version() == version);

    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", CAREMATCH_VERSION_MAJOR,
             CAREMATCH_VERSION_MINOR, CAREMATCH_VERSION_PATCH);
    /* CAREMATCH_VERSION may carry a pre-release suffix after MAJOR.MINOR.PATCH. */
    CHECK(strncmp(CAREMATCH_VERSION, expected, strlen(expected)) == 0);
}

static void test_last_error_message(void) {
    size_t written = 12345;
    char buf[256];
    memset(buf, 'x', sizeof buf);

    /* NULL out_written: rejected, nothing written. */
    CHECK_STATUS(carematch_last_error_message(buf, sizeof buf, NULL), CAREMATCH_NULL_ARGUMENT);
    CHECK(buf[0] == 'x');

    /* NULL buffer with a non-zero length: rejected, out_written untouched. */
    CHECK_STATUS(carematch_last_error_message(NULL, sizeof buf, &written),
                 CAREMATCH_NULL_ARGUMENT);
    CHECK(written == 12345);

    /* (NULL, 0) asks for the size needed: the empty message needs 1 byte (its NUL). */
    CHECK_STATUS(carematch_last_error_message(NULL, 0, &written), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(written == 1);

    /* A zero-length real buffer is too small as well, and is not written. */
    CHECK_STATUS(carematch_last_error_message(buf, 0, &written), CAREMATCH_BUFFER_TOO_SMALL);
    CHECK(written == 1);
    CHECK(buf[0] == 'x');

    /* No call has failed on this thread: the message is "". */
    CHECK_STATUS(carematch_last_error_message(buf, sizeof buf, &written), CAREMATCH_OK);
    CHECK(written == 0);
    CHECK(buf[0] == '\0');
    CHECK(buf[1] == 'x'); /* nothing written past the NUL */

    /* The size query and the copy agree, with an exactly-sized heap buffer (ASan/valgrind check
     * that nothing is written past it). */
    size_t needed = 0;
    CHECK_STATUS(carematch_last_error_message(NULL, 0, &needed), CAREMATCH_BUFFER_TOO_SMALL);
    char *exact = malloc(needed);
    CHECK(exact != NULL);
    if (exact != NULL) {
        CHECK_STATUS(carematch_last_error_message(exact, needed, &written), CAREMATCH_OK);
        CHECK(written + 1 == needed);
        CHECK(strlen(exact) == written);
        free(exact);
    }
}

static void test_status_name(void) {
    CHECK(strcmp(carematch_status_name(CAREMATCH_OK), "CAREMATCH_OK") == 0);
    CHECK(strcmp(carematch_status_name(CAREMATCH_NULL_ARGUMENT), "CAREMATCH_NULL_ARGUMENT") == 0);
    CHECK(strcmp(carematch_status_name(CAREMATCH_INVALID_UTF8), "CAREMATCH_INVALID_UTF8") == 0);
    CHECK(strcmp(carematch_status_name(CAREMATCH_INVALID_ARGUMENT),
                 "CAREMATCH_INVALID_ARGUMENT") == 0);
    CHECK(strcmp(carematch_status_name(CAREMATCH_BUFFER_TOO_SMALL),
                 "CAREMATCH_BUFFER_TOO_SMALL") == 0);
    CHECK(strcmp(carematch_status_name(CAREMATCH_INPUT_ERROR), "CAREMATCH_INPUT_ERROR") == 0);
    CHECK(strcmp(carematch_status_name(CAREMATCH_IO_ERROR), "CAREMATCH_IO_ERROR") == 0);
    CHECK(strcmp(carematch_status_name(CAREMATCH_PANIC), "CAREMATCH_PANIC") == 0);
    CHECK(strcmp(carematch_status_name(CAREMATCH_CONFIG_ERROR), "CAREMATCH_CONFIG_ERROR") == 0);

    /* Unknown numbers get a name too, never NULL. */
    const char *unknown = carematch_status_name(0xFFFFFFFFu);
    CHECK(unknown != NULL && strcmp(unknown, "CAREMATCH_UNKNOWN_STATUS") == 0);

    /* The numbers are ABI. */
    CHECK(CAREMATCH_OK == 0);
    CHECK(CAREMATCH_BUFFER_TOO_SMALL == 4);
    CHECK(CAREMATCH_PANIC == 7);
}

int main(void) {
    test_version();
    test_last_error_message();
    test_status_name();

    printf("carematch %s C smoke test\n", carematch_version());
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
