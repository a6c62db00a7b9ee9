/* How fast a PUSH takes ZMQ_DONTWAIT sends that must all arrive: one PUSH
   bound over tcp, one PULL connected and read by a second thread, COUNT
   messages of SIZE bytes sent with ZMQ_DONTWAIT, each sent again at once
   while it meets EAGAIN (a PUSH at SNDHWM refuses, it drops nothing),
   timed on the sending thread until the PULL has them all. Prints the
   messages per second, then how many EAGAINs the sender met.

   Both libraries refuse a run of such sends once SNDHWM of them went since
   the sender last learnt how far its peer read, which libzmq's application
   thread does at most once a millisecond in a run of sends, and Monocoque's
   handle likewise (patterns/src/context/send_credit.rs).

   libzmq's perf tools have no such case; scripts/libzmq-perf builds this
   against the stable API (capi/include/zmq.h) and runs it on both libraries.

   usage: push_dontwait [COUNT [SIZE]] */
#include <errno.h>
#include <zmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *pull;
static long count;

static double now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *reader (void *unused)
{
    (void) unused;
    char buf[65536];
    for (long i = 0; i < count; i++)
        if (zmq_recv (pull, buf, sizeof buf, 0) < 0) {
            fprintf (stderr, "recv: %s\n", zmq_strerror (zmq_errno ()));
            exit (1);
        }
    return NULL;
}

int main (int argc, char **argv)
{
    count = argc > 1 ? atol (argv[1]) : 1000000;
    size_t size = argc > 2 ? (size_t) atol (argv[2]) : 64;
    if (count <= 0 || size > 65536) {
        fprintf (stderr, "usage: push_dontwait [COUNT [SIZE, at most 65536]]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new ();
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    pull = zmq_socket (ctx, ZMQ_PULL);
    char endpoint[256];
    size_t len = sizeof endpoint;
    if (zmq_bind (push, "tcp://127.0.0.1:*") != 0
        || zmq_getsockopt (push, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0
        || zmq_connect (pull, endpoint) != 0) {
        fprintf (stderr, "setup: %s\n", zmq_strerror (zmq_errno ()));
        return 1;
    }
    char *buf = calloc (1, size);
    /* The connection is up once one message has gone through. */
    if (zmq_send (push, buf, size, 0) != (int) size
        || zmq_recv (pull, buf, size, 0) != (int) size) {
        fprintf (stderr, "first message: %s\n", zmq_strerror (zmq_errno ()));
        return 1;
    }
    pthread_t thread;
    pthread_create (&thread, NULL, reader, NULL);
    long refused = 0;
    double start = now ();
    for (long i = 0; i < count; i++)
        while (zmq_send (push, buf, size, ZMQ_DONTWAIT) != (int) size) {
            if (zmq_errno () != EAGAIN) {
                fprintf (stderr, "send: %s\n", zmq_strerror (zmq_errno ()));
                return 1;
            }
            refused++;
        }
    pthread_join (thread, NULL);
    double elapsed = now () - start;
    printf ("%.0f msg/s\n%ld EAGAIN\n", count / elapsed, refused);
    free (buf);
    zmq_close (push);
    zmq_close (pull);
    zmq_ctx_term (ctx);
    return 0;
}
