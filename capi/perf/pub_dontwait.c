/* How fast a PUB takes ZMQ_DONTWAIT sends: one PUB bound over tcp, one SUB
   of every topic connected and read by a second thread, COUNT sends of SIZE
   bytes with ZMQ_DONTWAIT timed on the sending thread. Prints the sends per
   second, then how many the SUB received (a PUB drops at SNDHWM what its
   subscriber has no room for, as libzmq's does).

   libzmq's perf tools have no such case; scripts/libzmq-perf builds this
   against the stable API (capi/include/zmq.h) and runs it on both libraries.

   usage: pub_dontwait [COUNT [SIZE]] */
#include <zmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *sub;
static long received;

static double now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Reads until a 3-byte "end" or 500 ms of silence (the end may be dropped
   at the HWM too). */
static void *reader (void *unused)
{
    (void) unused;
    char buf[65536];
    for (;;) {
        int n = zmq_recv (sub, buf, sizeof buf, 0);
        if (n < 0 || n == 3)
            return NULL;
        received++;
    }
}

int main (int argc, char **argv)
{
    long count = argc > 1 ? atol (argv[1]) : 1000000;
    size_t size = argc > 2 ? (size_t) atol (argv[2]) : 64;
    if (count <= 0 || size == 3 || size > 65536) {
        fprintf (stderr, "usage: pub_dontwait [COUNT [SIZE, not 3, at most 65536]]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new ();
    void *pub = zmq_socket (ctx, ZMQ_PUB);
    sub = zmq_socket (ctx, ZMQ_SUB);
    char endpoint[256];
    size_t len = sizeof endpoint;
    int timeout = 500;
    if (zmq_bind (pub, "tcp://127.0.0.1:*") != 0
        || zmq_getsockopt (pub, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0
        || zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0) != 0
        || zmq_setsockopt (sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout) != 0
        || zmq_connect (sub, endpoint) != 0) {
        fprintf (stderr, "setup: %s\n", zmq_strerror (zmq_errno ()));
        return 1;
    }
    char *buf = calloc (1, size);
    /* Until the subscription is in: one message gets through. */
    for (;;) {
        zmq_send (pub, buf, size, 0);
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 10) == 1)
            break;
    }
    while (zmq_recv (sub, buf, size, ZMQ_DONTWAIT) >= 0) {
    }
    pthread_t thread;
    pthread_create (&thread, NULL, reader, NULL);
    double start = now ();
    for (long i = 0; i < count; i++)
        if (zmq_send (pub, buf, size, ZMQ_DONTWAIT) != (int) size) {
            fprintf (stderr, "send: %s\n", zmq_strerror (zmq_errno ()));
            return 1;
        }
    double elapsed = now () - start;
    zmq_send (pub, "end", 3, 0);
    pthread_join (thread, NULL);
    printf ("%.0f sends/s\n%ld of %ld received\n", count / elapsed, received, count);
    free (buf);
    zmq_close (pub);
    zmq_close (sub);
    zmq_ctx_term (ctx);
    return 0;
}
