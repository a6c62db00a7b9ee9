/* Thousands of sockets in one process: N DEALERs connect over tcp to one
   ROUTER (RCVHWM 0: it queues whatever arrives) in one context, each sends
   M messages of SIZE bytes with blocking sends, and the ROUTER receives them
   all. Prints how long each phase took, the process's RSS (and peak) and
   descriptors after each, and after every socket is closed. Run it once on
   libzmq and once on Monocoque's library (LD_LIBRARY_PATH) to compare; the
   file-descriptor limit must allow about 2 N + 20 (3 N for libzmq).

   docs/BENCHMARKS.md, attempt 21, has the figures.

   usage: many_dealers N M SIZE */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* A field of /proc/self/status, in kB. */
static long status_kb (const char *key)
{
    FILE *f = fopen ("/proc/self/status", "r");
    char line[256];
    long value = -1;
    size_t n = strlen (key);
    while (f && fgets (line, sizeof line, f))
        if (strncmp (line, key, n) == 0)
            value = atol (line + n);
    if (f)
        fclose (f);
    return value;
}

static int open_fds (void)
{
    DIR *d = opendir ("/proc/self/fd");
    int n = 0;
    while (d && readdir (d))
        n++;
    if (d)
        closedir (d);
    return n - 3; /* ., .. and the directory's own */
}

static double now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void fail (const char *what)
{
    fprintf (stderr, "%s: %s\n", what, zmq_strerror (zmq_errno ()));
    exit (1);
}

int main (int argc, char **argv)
{
    if (argc != 4) {
        fprintf (stderr, "usage: many_dealers N M SIZE\n");
        return 2;
    }
    int n = atoi (argv[1]), m = atoi (argv[2]);
    size_t size = (size_t) atol (argv[3]);
    if (n <= 0 || m <= 0 || size > 65536) {
        fprintf (stderr, "N and M at least 1, SIZE at most 65536\n");
        return 2;
    }
    void *ctx = zmq_ctx_new ();
    if (zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, n + 10) != 0)
        fail ("MAX_SOCKETS");
    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    int unbounded = 0;
    char endpoint[256];
    size_t len = sizeof endpoint;
    if (zmq_setsockopt (router, ZMQ_RCVHWM, &unbounded, sizeof unbounded) != 0
        || zmq_bind (router, "tcp://127.0.0.1:*") != 0
        || zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0)
        fail ("router");
    printf ("start: rss %ld kB, %d fds\n", status_kb ("VmRSS:"), open_fds ());

    void **dealers = malloc (n * sizeof *dealers);
    double start = now ();
    for (int i = 0; i < n; i++) {
        dealers[i] = zmq_socket (ctx, ZMQ_DEALER);
        if (!dealers[i] || zmq_connect (dealers[i], endpoint) != 0)
            fail ("dealer");
    }
    printf ("%d connecting: %.2f s, rss %ld kB, %d fds\n", n, now () - start,
            status_kb ("VmRSS:"), open_fds ());

    char *body = calloc (1, size + 1);
    start = now ();
    for (int k = 0; k < m; k++)
        for (int i = 0; i < n; i++)
            if (zmq_send (dealers[i], body, size, 0) != (int) size)
                fail ("send");
    double sent = now () - start;
    char id[256];
    char *got = malloc (size + 16);
    for (long received = 0; received < (long) n * m; received++) {
        if (zmq_recv (router, id, sizeof id, 0) < 0)
            fail ("receive the routing id");
        if (zmq_recv (router, got, size + 16, 0) != (int) size)
            fail ("receive the body");
    }
    printf ("%ld received: sends %.2f s, all received %.2f s, rss %ld kB, peak %ld kB, %d fds\n",
            (long) n * m, sent, now () - start, status_kb ("VmRSS:"), status_kb ("VmHWM:"),
            open_fds ());

    for (int i = 0; i < n; i++)
        zmq_close (dealers[i]);
    zmq_close (router);
    zmq_ctx_term (ctx);
    printf ("closed: rss %ld kB, %d fds\n", status_kb ("VmRSS:"), open_fds ());
    free (dealers);
    free (body);
    free (got);
    return 0;
}
