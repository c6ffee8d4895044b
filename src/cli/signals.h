/*
 * Signals that ask a one-shot run to stop cleanly. On a cluster the end of a
 * job's time slot arrives as a signal (Slurm's --signal=B:USR1@N warning,
 * forwarded by the batch script, or SIGTERM at the limit); a user at a
 * terminal presses Ctrl-C. Either way the useful reaction is the same: let
 * calibration finish its current group, write the checkpoint and exit with
 * the "interrupted" code (8), so that the requeued job resumes where it left.
 */
#ifndef SPARSIFY_CLI_SIGNALS_H
#define SPARSIFY_CLI_SIGNALS_H

/*
 * Clears any earlier stop request, then installs handlers for SIGTERM, SIGUSR1
 * and SIGINT that call sp_calib_request_stop(). A second SIGINT, or a SIGTERM
 * 2 s or more after the first, falls back to the default action (the process
 * dies), so an impatient user, or a signal that lands after calibration where
 * nothing polls the request, is not stuck waiting. TERMs closer together count
 * as one (a scheduler and a launcher may both deliver the same stop). Returns 0, or -1 with errno if sigaction failed (the run can go
 * on; it just cannot be stopped cleanly). Local; not thread-safe.
 */
int sp_cli_signals_install(void);

/* Puts back the dispositions found by sp_cli_signals_install. Local. */
void sp_cli_signals_restore(void);

/* The last stop signal received since install (SIGTERM...), or 0. Async-signal-safe. */
int sp_cli_signals_last(void);

#endif
