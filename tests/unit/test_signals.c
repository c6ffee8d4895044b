/*
 * The CLI's stop handlers (src/cli/signals.c): a signal must turn into a
 * calibration stop request and nothing else, a second Ctrl-C or TERM must
 * still kill, and restoring must give back the old dispositions. Deaths are
 * checked in forked children so the test program survives them.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/signals.h"
#include "sparsify/calib.h"
#include "testutil.h"

static void test_each_signal_requests_a_stop(void)
{
    const int sigs[] = {SIGUSR1, SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        sp_calib_request_stop(); /* install must clear a stale request */
        CU_ASSERT_EQUAL_FATAL(sp_cli_signals_install(), 0);
        CU_ASSERT_FALSE(sp_calib_stop_requested());
        CU_ASSERT_EQUAL(sp_cli_signals_last(), 0);
        raise(sigs[i]); /* survives: the handler only records it */
        CU_ASSERT_TRUE(sp_calib_stop_requested());
        CU_ASSERT_EQUAL(sp_cli_signals_last(), sigs[i]);
        sp_cli_signals_restore();
        sp_calib_clear_stop();
    }
}

static void test_usr1_may_repeat(void)
{
    CU_ASSERT_EQUAL_FATAL(sp_cli_signals_install(), 0);
    for (int i = 0; i < 5; i++)
        raise(SIGUSR1);
    CU_ASSERT_TRUE(sp_calib_stop_requested());
    sp_cli_signals_restore();
    sp_calib_clear_stop();
}

/* Forks a child that installs the handlers, raises `sig` `times` times
 * `gap_ms` apart, and exits 0 if it survived. Returns the wait status. */
static int child_raising(int sig, int times, int gap_ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (sp_cli_signals_install() != 0)
            _exit(3);
        for (int i = 0; i < times; i++) {
            if (i)
                usleep((useconds_t)gap_ms * 1000);
            raise(sig);
        }
        _exit(sp_calib_stop_requested() ? 0 : 4);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void test_second_int_or_later_term_kills(void)
{
    int st = child_raising(SIGINT, 1, 0);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = child_raising(SIGINT, 2, 0);
    CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
    st = child_raising(SIGTERM, 1, 0);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The same stop delivered twice at once (scheduler + launcher) is one. */
    st = child_raising(SIGTERM, 2, 0);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = child_raising(SIGTERM, 2, 2100);
    CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    st = child_raising(SIGUSR1, 3, 0);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_restore_gives_back_the_old_handler(void)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, before, after;
    sigemptyset(&ign.sa_mask);
    CU_ASSERT_EQUAL_FATAL(sigaction(SIGUSR1, &ign, &before), 0);
    CU_ASSERT_EQUAL_FATAL(sp_cli_signals_install(), 0);
    sigaction(SIGUSR1, NULL, &after);
    CU_ASSERT_PTR_NOT_EQUAL(after.sa_handler, SIG_IGN);
    sp_cli_signals_restore();
    sigaction(SIGUSR1, NULL, &after);
    CU_ASSERT_PTR_EQUAL(after.sa_handler, SIG_IGN);
    sp_cli_signals_restore(); /* a second restore is harmless */
    sigaction(SIGUSR1, &before, NULL);
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("signals", NULL, NULL);
    CU_add_test(s, "TERM, USR1 and INT each request a calibration stop", test_each_signal_requests_a_stop);
    CU_add_test(s, "USR1 may repeat", test_usr1_may_repeat);
    CU_add_test(s, "a second INT, or a TERM 2 s after the first, kills", test_second_int_or_later_term_kills);
    CU_add_test(s, "restore gives back the old handler", test_restore_gives_back_the_old_handler);
    return sp_test_main();
}
