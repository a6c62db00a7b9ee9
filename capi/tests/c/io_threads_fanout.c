/* ZMQ_IO_THREADS: 0 leaves a context inproc only (EMTHREAD for tcp); the
   count is fixed by the first socket; zmq_init (n) sets it; with 3, a PUB's
   tcp bind starts two IO cores and its 2,000 subscribers (4,000 descriptors
   with their connections' other ends, both ends on the IO cores: the SUBs'
   connects are spread too) are all served; ZMQ_AFFINITY picks among the I/O
   threads. */
#include "check.h"
#include "io_threads.h"
#include <errno.h>

#define SUBSCRIBERS 2000

/* Publishes `text` (6 bytes) on `pub` until `sub` has it (a subscriber
   joins when its subscription arrives), within 30 s, then receives it. */
static void publish_until_heard (void *pub, void *sub, const char *text)
{
    void *watch = zmq_stopwatch_start ();
    for (;;) {
        CHECK (zmq_stopwatch_intermediate (watch) < 30 * 1000 * 1000);
        CHECK (zmq_send (pub, text, 6, 0) == 6);
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        CHECK (zmq_poll (&item, 1, 10) >= 0);
        if (item.revents & ZMQ_POLLIN)
            break;
    }
    zmq_stopwatch_stop (watch);
    char buf[16];
    CHECK (zmq_recv (sub, buf, sizeof buf, 0) == 6 && memcmp (buf, text, 6) == 0);
}

int main (void)
{
    print_library ();

    /* 0: inproc only. */
    void *ctx = zmq_ctx_new ();
    CHECK (zmq_ctx_get (ctx, ZMQ_IO_THREADS) == ZMQ_IO_THREADS_DFLT);
    CHECK (zmq_ctx_set (ctx, ZMQ_IO_THREADS, -1) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_ctx_set (ctx, ZMQ_IO_THREADS, 0) == 0);
    void *a = zmq_socket (ctx, ZMQ_PAIR);
    void *b = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (zmq_bind (a, "tcp://127.0.0.1:*") == -1 && zmq_errno () == EMTHREAD);
    CHECK (zmq_connect (b, "ipc://nowhere") == -1 && zmq_errno () == EMTHREAD);
    CHECK (zmq_bind (a, "inproc://zero") == 0 && zmq_connect (b, "inproc://zero") == 0);
    CHECK (zmq_send (b, "in", 2, 0) == 2);
    char buf[16];
    CHECK (zmq_recv (a, buf, sizeof buf, 0) == 2);
    /* Fixed by the first socket, as libzmq's: a later set is read back
       and changes nothing (new sockets still have no I/O thread). */
    CHECK (zmq_ctx_set (ctx, ZMQ_IO_THREADS, 2) == 0);
    CHECK (zmq_ctx_get (ctx, ZMQ_IO_THREADS) == 2);
    void *c = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (zmq_bind (c, "tcp://127.0.0.1:*") == -1 && zmq_errno () == EMTHREAD);
    CHECK (zmq_close (c) == 0);
    CHECK (zmq_close (a) == 0 && zmq_close (b) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);

    ctx = zmq_init (3);
    CHECK (ctx != NULL && zmq_ctx_get (ctx, ZMQ_IO_THREADS) == 3);
    CHECK (zmq_init (-1) == NULL && zmq_errno () == EINVAL);
    CHECK (zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, SUBSCRIBERS + 1) == 0);
    allow_open_files (2 * SUBSCRIBERS + 256);

    /* 3: the PUB's subscribers spread over two IO cores. */
    CHECK (io_thread_count () == 0);
    void *pub = zmq_socket (ctx, ZMQ_PUB);
    CHECK (zmq_bind (pub, "tcp://127.0.0.1:*") == 0);
    await_io_threads (2);
    char endpoint[64];
    size_t size = sizeof endpoint;
    CHECK (zmq_getsockopt (pub, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0);
    void *subs[SUBSCRIBERS];
    int heard[SUBSCRIBERS] = {0};
    for (int i = 0; i < SUBSCRIBERS; i++) {
        subs[i] = zmq_socket (ctx, ZMQ_SUB);
        CHECK (subs[i] != NULL);
        CHECK (zmq_setsockopt (subs[i], ZMQ_SUBSCRIBE, "", 0) == 0);
        CHECK (zmq_connect (subs[i], endpoint) == 0);
    }
    /* Publish until every subscriber has heard something (each joins when
       its subscription arrives), waiting on the subscribers between rounds. */
    void *watch = zmq_stopwatch_start ();
    int missing = SUBSCRIBERS;
    zmq_pollitem_t items[SUBSCRIBERS];
    while (missing > 0) {
        /* About 3 s on an idle 2-CPU machine, 48-55 s with both CPUs
           loaded by other work: bounded well above that. */
        CHECK (zmq_stopwatch_intermediate (watch) < 120 * 1000 * 1000);
        CHECK (zmq_send (pub, "warm", 4, 0) == 4);
        int n = 0;
        for (int i = 0; i < SUBSCRIBERS; i++)
            if (!heard[i])
                items[n++] = (zmq_pollitem_t){subs[i], 0, ZMQ_POLLIN, 0};
        CHECK (zmq_poll (items, n, 10) >= 0);
        for (int i = 0; i < SUBSCRIBERS; i++) {
            if (heard[i])
                continue;
            while (zmq_recv (subs[i], buf, sizeof buf, ZMQ_DONTWAIT) == 4)
                heard[i] = 1;
            CHECK (zmq_errno () == EAGAIN || heard[i]);
            missing -= heard[i];
        }
    }
    zmq_stopwatch_stop (watch);
    /* Now everyone is in: one message reaches each, after the warm-ups. */
    CHECK (zmq_send (pub, "last", 4, 0) == 4);
    int timeout = 10000;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        CHECK (zmq_setsockopt (subs[i], ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
        int len;
        do {
            len = zmq_recv (subs[i], buf, sizeof buf, 0);
            CHECK (len == 4);
        } while (memcmp (buf, "last", 4) != 0);
    }
    for (int i = 0; i < SUBSCRIBERS; i++)
        CHECK (zmq_close (subs[i]) == 0);
    CHECK (zmq_close (pub) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    await_io_threads (0);

    /* A CURVE publisher under IO_THREADS 2 (no ZAP handler: everyone with
       the server's key is admitted, as libzmq does) serves its subscriber:
       connections that need admission stay on the context's thread. */
    ctx = zmq_ctx_new ();
    CHECK (zmq_ctx_set (ctx, ZMQ_IO_THREADS, 2) == 0);
    char server_public[41], server_secret[41], client_public[41], client_secret[41];
    CHECK (zmq_curve_keypair (server_public, server_secret) == 0);
    CHECK (zmq_curve_keypair (client_public, client_secret) == 0);
    pub = zmq_socket (ctx, ZMQ_PUB);
    int on = 1;
    CHECK (zmq_setsockopt (pub, ZMQ_CURVE_SERVER, &on, sizeof on) == 0);
    CHECK (zmq_setsockopt (pub, ZMQ_CURVE_SECRETKEY, server_secret, 40) == 0);
    CHECK (zmq_bind (pub, "tcp://127.0.0.1:*") == 0);
    size = sizeof endpoint;
    CHECK (zmq_getsockopt (pub, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0);
    void *secure = zmq_socket (ctx, ZMQ_SUB);
    CHECK (zmq_setsockopt (secure, ZMQ_CURVE_SERVERKEY, server_public, 40) == 0);
    CHECK (zmq_setsockopt (secure, ZMQ_CURVE_PUBLICKEY, client_public, 40) == 0);
    CHECK (zmq_setsockopt (secure, ZMQ_CURVE_SECRETKEY, client_secret, 40) == 0);
    CHECK (zmq_setsockopt (secure, ZMQ_SUBSCRIBE, "", 0) == 0);
    CHECK (zmq_connect (secure, endpoint) == 0);
    publish_until_heard (pub, secure, "sealed");
    CHECK (zmq_close (secure) == 0 && zmq_close (pub) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    await_io_threads (0);

    /* ZMQ_AFFINITY names I/O threads: under IO_THREADS 3, thread 0 is the
       context's, 1 and 2 its IO cores; a mask naming none of them is
       EMTHREAD; a PUB whose mask names no IO core starts none (its
       subscribers stay on the context's thread); one naming core 2 is
       spread over it and serves its subscriber. */
    ctx = zmq_init (3);
    pub = zmq_socket (ctx, ZMQ_PUB);
    uint64_t mask = 8;
    CHECK (zmq_setsockopt (pub, ZMQ_AFFINITY, &mask, sizeof mask) == 0);
    CHECK (zmq_bind (pub, "tcp://127.0.0.1:*") == -1 && zmq_errno () == EMTHREAD);
    mask = 1;
    CHECK (zmq_setsockopt (pub, ZMQ_AFFINITY, &mask, sizeof mask) == 0);
    CHECK (zmq_bind (pub, "tcp://127.0.0.1:*") == 0);
    CHECK (io_thread_count () == 0);
    void *spread = zmq_socket (ctx, ZMQ_PUB);
    mask = 4;
    CHECK (zmq_setsockopt (spread, ZMQ_AFFINITY, &mask, sizeof mask) == 0);
    CHECK (zmq_bind (spread, "tcp://127.0.0.1:*") == 0);
    await_io_threads (2);
    size = sizeof endpoint;
    CHECK (zmq_getsockopt (spread, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0);
    void *listener = zmq_socket (ctx, ZMQ_SUB);
    CHECK (zmq_setsockopt (listener, ZMQ_SUBSCRIBE, "", 0) == 0);
    CHECK (zmq_connect (listener, endpoint) == 0);
    publish_until_heard (spread, listener, "core 2");
    CHECK (zmq_close (listener) == 0 && zmq_close (spread) == 0 && zmq_close (pub) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    printf ("ok\n");
    return 0;
}
