/* How fast a ZMQ_DONTWAIT receive says EAGAIN on a socket with nothing
   queued, as a busy-polling loop calls it: a PULL bound over tcp with one
   PUSH connected (one message through first, so the connection is up),
   then COUNT receives with ZMQ_DONTWAIT timed. Prints the calls per second.

   usage: recv_dontwait [COUNT] */
#include <zmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main (int argc, char **argv)
{
    long count = argc > 1 ? atol (argv[1]) : 1000000;
    if (count <= 0) {
        fprintf (stderr, "usage: recv_dontwait [COUNT]\n");
        return 2;
    }
    void *ctx = zmq_ctx_new ();
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    char endpoint[256];
    size_t len = sizeof endpoint;
    char buf[64];
    if (zmq_bind (pull, "tcp://127.0.0.1:*") != 0
        || zmq_getsockopt (pull, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0
        || zmq_connect (push, endpoint) != 0 || zmq_send (push, "up", 2, 0) != 2
        || zmq_recv (pull, buf, sizeof buf, 0) != 2) {
        fprintf (stderr, "setup: %s\n", zmq_strerror (zmq_errno ()));
        return 1;
    }
    double start = now ();
    for (long i = 0; i < count; i++)
        if (zmq_recv (pull, buf, sizeof buf, ZMQ_DONTWAIT) != -1 || zmq_errno () != EAGAIN) {
            fprintf (stderr, "a message, or not EAGAIN: %s\n", zmq_strerror (zmq_errno ()));
            return 1;
        }
    double elapsed = now () - start;
    printf ("%.0f calls/s\n", count / elapsed);
    zmq_close (pull);
    zmq_close (push);
    zmq_ctx_term (ctx);
    return 0;
}
