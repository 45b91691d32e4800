/* The pod sandbox's process for tests/integration/test_cri.py (the image
 * containerd's CRI plugin runs as each pod's sandbox_image): it sleeps until
 * SIGTERM or SIGINT and then exits 0; as PID 1 of a shared PID namespace it
 * also reaps the children that other containers' processes leave behind.
 * Built with `gcc -static -O2`; no libc beyond signals and waitpid. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_child(int sig)
{
    (void)sig; /* only to wake sigsuspend: reaping happens in main */
}

int main(int argc, char **argv)
{
    sigset_t blocked, during_wait;
    struct sigaction sa;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("pyrunc-test-pause 1");
        return 0;
    }
    /* Block the signals we handle, then wait for them atomically with
     * sigsuspend: a signal between the checks and the wait is not lost. */
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGCHLD);
    sigprocmask(SIG_BLOCK, &blocked, &during_wait);
    sigdelset(&during_wait, SIGTERM);
    sigdelset(&during_wait, SIGINT);
    sigdelset(&during_wait, SIGCHLD);

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (stop_requested)
            return 0;
        sigsuspend(&during_wait);
    }
}
