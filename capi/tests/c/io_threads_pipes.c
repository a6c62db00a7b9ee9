/* ZMQ_IO_THREADS for every socket type but the publishers: under
   IO_THREADS 3 a ROUTER's tcp bind starts two IO cores and spreads its
   1,000 DEALERs over them (2,000 descriptors with their connections' other
   ends): each request arrives under its sender's routing id and each reply
   routed by it comes back (the DEALERs' connects run on the IO cores
   too); a PULL spread the same way takes 8 PUSHes'
   streams whole and in order per sender; a REP answers its REQs; a STREAM
   serves a plain TCP client. */
#include "check.h"
#include "io_threads.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEALERS 1000
#define PUSHES 8
#define STREAM 2000

static void last_endpoint (void *s, char *endpoint, size_t size)
{
    CHECK (zmq_getsockopt (s, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0);
}

int main (void)
{
    print_library ();
    allow_open_files (2 * DEALERS + 256);
    void *ctx = zmq_init (3);
    CHECK (zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, DEALERS + 16) == 0);
    int timeout = 10000;

    /* A ROUTER and 1,000 named DEALERs. */
    CHECK (io_thread_count () == 0);
    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    CHECK (zmq_bind (router, "tcp://127.0.0.1:*") == 0);
    await_io_threads (2);
    CHECK (zmq_setsockopt (router, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
    char endpoint[64];
    last_endpoint (router, endpoint, sizeof endpoint);
    void *dealers[DEALERS];
    char name[16];
    for (int i = 0; i < DEALERS; i++) {
        dealers[i] = zmq_socket (ctx, ZMQ_DEALER);
        CHECK (dealers[i] != NULL);
        snprintf (name, sizeof name, "d%04d", i);
        CHECK (zmq_setsockopt (dealers[i], ZMQ_ROUTING_ID, name, 5) == 0);
        CHECK (zmq_setsockopt (dealers[i], ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
        CHECK (zmq_connect (dealers[i], endpoint) == 0);
        CHECK (zmq_send (dealers[i], name, 5, 0) == 5);
    }
    char id[16], body[16];
    for (int i = 0; i < DEALERS; i++) {
        CHECK (zmq_recv (router, id, sizeof id, 0) == 5);
        int more;
        size_t size = sizeof more;
        CHECK (zmq_getsockopt (router, ZMQ_RCVMORE, &more, &size) == 0 && more);
        CHECK (zmq_recv (router, body, sizeof body, 0) == 5);
        CHECK (memcmp (id, body, 5) == 0); /* its sender's routing id */
        CHECK (zmq_send (router, id, 5, ZMQ_SNDMORE) == 5);
        CHECK (zmq_send (router, "re", 2, 0) == 2);
    }
    for (int i = 0; i < DEALERS; i++) {
        CHECK (zmq_recv (dealers[i], body, sizeof body, 0) == 2);
        CHECK (memcmp (body, "re", 2) == 0);
        CHECK (zmq_close (dealers[i]) == 0);
    }
    CHECK (zmq_close (router) == 0);

    /* A PULL and 8 PUSHes, STREAM messages each. */
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    CHECK (zmq_bind (pull, "tcp://127.0.0.1:*") == 0);
    CHECK (zmq_setsockopt (pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
    last_endpoint (pull, endpoint, sizeof endpoint);
    void *pushes[PUSHES];
    for (int p = 0; p < PUSHES; p++) {
        pushes[p] = zmq_socket (ctx, ZMQ_PUSH);
        CHECK (zmq_connect (pushes[p], endpoint) == 0);
    }
    for (int k = 0; k < STREAM; k++)
        for (int p = 0; p < PUSHES; p++) {
            int msg[2] = {p, k};
            CHECK (zmq_send (pushes[p], msg, sizeof msg, 0) == sizeof msg);
        }
    int next[PUSHES] = {0};
    for (int n = 0; n < PUSHES * STREAM; n++) {
        int msg[2];
        CHECK (zmq_recv (pull, msg, sizeof msg, 0) == sizeof msg);
        CHECK (msg[0] >= 0 && msg[0] < PUSHES);
        CHECK (msg[1] == next[msg[0]]); /* in order per sender */
        next[msg[0]]++;
    }
    for (int p = 0; p < PUSHES; p++)
        CHECK (zmq_close (pushes[p]) == 0);
    CHECK (zmq_close (pull) == 0);

    /* A REP and its REQs. */
    void *rep = zmq_socket (ctx, ZMQ_REP);
    CHECK (zmq_bind (rep, "tcp://127.0.0.1:*") == 0);
    CHECK (zmq_setsockopt (rep, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
    last_endpoint (rep, endpoint, sizeof endpoint);
    void *reqs[4];
    for (int r = 0; r < 4; r++) {
        reqs[r] = zmq_socket (ctx, ZMQ_REQ);
        CHECK (zmq_setsockopt (reqs[r], ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
        CHECK (zmq_connect (reqs[r], endpoint) == 0);
    }
    for (int round = 0; round < 50; round++) {
        for (int r = 0; r < 4; r++)
            CHECK (zmq_send (reqs[r], &r, sizeof r, 0) == sizeof r);
        for (int r = 0; r < 4; r++) {
            int got;
            CHECK (zmq_recv (rep, &got, sizeof got, 0) == sizeof got);
            got += 100;
            CHECK (zmq_send (rep, &got, sizeof got, 0) == sizeof got);
        }
        for (int r = 0; r < 4; r++) {
            int got;
            CHECK (zmq_recv (reqs[r], &got, sizeof got, 0) == sizeof got);
            CHECK (got == r + 100);
        }
    }
    for (int r = 0; r < 4; r++)
        CHECK (zmq_close (reqs[r]) == 0);
    CHECK (zmq_close (rep) == 0);

    /* A STREAM and a plain TCP client: the opening notice, the client's
       bytes under its routing id, the reply routed back by it. */
    void *stream = zmq_socket (ctx, ZMQ_STREAM);
    CHECK (zmq_bind (stream, "tcp://127.0.0.1:*") == 0);
    CHECK (zmq_setsockopt (stream, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
    last_endpoint (stream, endpoint, sizeof endpoint);
    int port = atoi (strrchr (endpoint, ':') + 1);
    int client = socket (AF_INET, SOCK_STREAM, 0);
    CHECK (client >= 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons (port)};
    to.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    CHECK (connect (client, (struct sockaddr *) &to, sizeof to) == 0);
    CHECK (write (client, "hi", 2) == 2);
    unsigned char rid[256];
    int rid_size = zmq_recv (stream, rid, sizeof rid, 0);
    CHECK (rid_size > 0);
    CHECK (zmq_recv (stream, body, sizeof body, 0) == 0); /* the notice */
    CHECK (zmq_recv (stream, rid, sizeof rid, 0) == rid_size);
    CHECK (zmq_recv (stream, body, sizeof body, 0) == 2);
    CHECK (memcmp (body, "hi", 2) == 0);
    CHECK (zmq_send (stream, rid, rid_size, ZMQ_SNDMORE) == rid_size);
    CHECK (zmq_send (stream, "ho", 2, 0) == 2);
    char got[2];
    CHECK (read (client, got, 2) == 2 && memcmp (got, "ho", 2) == 0);
    close (client);
    CHECK (zmq_close (stream) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    await_io_threads (0);
    printf ("ok\n");
    return 0;
}
