/*
 * The CLI's stop handlers (see signals.h for why). A handler may only do
 * async-signal-safe things: it records the signal number in a sig_atomic_t and
 * calls sp_calib_request_stop(), which only sets another one. The calibration
 * loop polls that flag between groups and agrees on it across ranks, so a
 * signal that reaches only some ranks still stops all of them together.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "cli/signals.h"
#include "sparsify/calib.h"

static const int stop_signals[] = {SIGTERM, SIGUSR1, SIGINT};
#define N_SIGNALS (sizeof stop_signals / sizeof stop_signals[0])

static struct sigaction saved[N_SIGNALS];
static bool installed;
static volatile sig_atomic_t last_signal;
static volatile sig_atomic_t sigint_count;
static volatile sig_atomic_t first_term_s; /* CLOCK_MONOTONIC seconds + 1 of the first TERM, or 0 */

/* Whole seconds on the monotonic clock (clock_gettime is async-signal-safe). */
static long now_s(void)
{
    struct timespec ts;
    return clock_gettime(CLOCK_MONOTONIC, &ts) == 0 ? (long)ts.tv_sec : 0;
}

static void on_stop_signal(int sig)
{
    int saved_errno = errno;
    last_signal = sig;
    /* A second Ctrl-C, or a TERM at least 2 s after the first: the sender
     * wants the process gone, checkpoint or not (after calibration nothing
     * polls the stop flag). TERMs closer together are one event delivered
     * twice (at a time limit Slurm signals the ranks and srun may forward its
     * own copy). USR1, the scheduler's warning, may repeat harmlessly. */
    bool kill_now = false;
    if (sig == SIGINT)
        kill_now = ++sigint_count > 1;
    if (sig == SIGTERM) {
        long t = now_s();
        if (!first_term_s)
            first_term_s = (sig_atomic_t)(t + 1);
        else
            kill_now = t - (first_term_s - 1) >= 2;
    }
    if (kill_now) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    sp_calib_request_stop();
    errno = saved_errno;
}

int sp_cli_signals_install(void)
{
    if (installed)
        return 0;
    sp_calib_clear_stop();
    last_signal = 0;
    sigint_count = 0;
    first_term_s = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: a signal must not turn a read() or an MPI progress call into
     * an EINTR failure; the stop is handled at the next group boundary. */
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < N_SIGNALS; i++) {
        if (sigaction(stop_signals[i], &sa, &saved[i]) != 0) {
            int e = errno;
            while (i-- > 0)
                sigaction(stop_signals[i], &saved[i], NULL);
            errno = e;
            return -1;
        }
    }
    installed = true;
    return 0;
}

void sp_cli_signals_restore(void)
{
    if (!installed)
        return;
    for (size_t i = 0; i < N_SIGNALS; i++)
        sigaction(stop_signals[i], &saved[i], NULL);
    installed = false;
}

int sp_cli_signals_last(void)
{
    return last_signal;
}
