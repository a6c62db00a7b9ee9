/* zmq_ctx_shutdown interrupts a receive blocked in another thread with
 * ETERM; zmq_ctx_term waits until that thread has closed its socket;
 * sockets cannot be made afterwards. MAX_SOCKETS is enforced. */
#include "check.h"
#include <pthread.h>

static void *blocked_receiver (void *socket)
{
    char buf[8];
    CHECK (zmq_recv (socket, buf, sizeof buf, 0) == -1);
    CHECK (zmq_errno () == ETERM);
    CHECK (zmq_close (socket) == 0);
    return NULL;
}

int main (void)
{
    print_library ();
    void *ctx = zmq_ctx_new ();
    CHECK (zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, 2) == 0);
    void *a = zmq_socket (ctx, ZMQ_PULL);
    void *b = zmq_socket (ctx, ZMQ_PUSH);
    CHECK (a && b);
    CHECK (zmq_socket (ctx, ZMQ_PUSH) == NULL && zmq_errno () == EMFILE);
    CHECK (zmq_close (b) == 0);
    CHECK (zmq_bind (a, "inproc://blocked") == 0);
    pthread_t thread;
    CHECK (pthread_create (&thread, NULL, blocked_receiver, a) == 0);
    CHECK (zmq_ctx_shutdown (ctx) == 0);
    CHECK (zmq_socket (ctx, ZMQ_PUSH) == NULL && zmq_errno () == ETERM);
    CHECK (zmq_ctx_term (ctx) == 0);
    CHECK (pthread_join (thread, NULL) == 0);
    printf ("ok\n");
    return 0;
}
