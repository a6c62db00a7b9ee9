/* The IO-core threads of this process, for the tests of ZMQ_IO_THREADS. */
#ifndef IO_THREADS_H
#define IO_THREADS_H
#include "check.h"
#include <dirent.h>
#include <sys/resource.h>

/* The process's IO-core threads (named monocoque-io-N), from
   /proc/self/task. Counted by name: a thread another part of the test
   joined can still be listed for a moment after the join, and a new
   thread names itself once it runs. */
static int io_thread_count (void)
{
    DIR *dir = opendir ("/proc/self/task");
    CHECK (dir != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir (dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], name[32] = {0};
        snprintf (path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen (path, "r");
        if (f == NULL)
            continue; /* it ended meanwhile */
        if (fgets (name, sizeof name, f) != NULL
            && strncmp (name, "monocoque-io-", 13) == 0)
            n++;
        fclose (f);
    }
    closedir (dir);
    return n;
}

/* Waits (within 10 s) until exactly `n` IO-core threads run. */
static void await_io_threads (int n)
{
    void *watch = zmq_stopwatch_start ();
    while (io_thread_count () != n) {
        CHECK (zmq_stopwatch_intermediate (watch) < 10 * 1000 * 1000);
        zmq_sleep (0); /* a yield; the count is re-read */
    }
    zmq_stopwatch_stop (watch);
}

/* Raises the soft limit on open files to at least `n` (the hard limit
   must allow it): a test that holds both ends of thousands of
   connections needs more than the usual 1,024. */
static void allow_open_files (rlim_t n)
{
    struct rlimit files;
    CHECK (getrlimit (RLIMIT_NOFILE, &files) == 0);
    if (files.rlim_cur < n) {
        CHECK (files.rlim_max >= n);
        files.rlim_cur = n;
        CHECK (setrlimit (RLIMIT_NOFILE, &files) == 0);
    }
}
#endif
