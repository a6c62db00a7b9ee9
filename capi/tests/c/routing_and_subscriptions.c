/* Envelopes and subscriptions frame by frame: a ROUTER receives the
 * DEALER's routing id (set with ZMQ_ROUTING_ID) as its first frame and
 * routes a reply by it; a SUB gets only what matches ZMQ_SUBSCRIBE, and
 * nothing after ZMQ_UNSUBSCRIBE; a ROUTER_MANDATORY send to an unknown id
 * fails with EHOSTUNREACH. */
#include "check.h"

int main (void)
{
    print_library ();
    void *ctx = zmq_ctx_new ();
    CHECK (zmq_ctx_set (ctx, ZMQ_BLOCKY, 0) == 0);

    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    void *dealer = zmq_socket (ctx, ZMQ_DEALER);
    int linger = -2;
    size_t int_size = sizeof linger;
    CHECK (zmq_getsockopt (router, ZMQ_LINGER, &linger, &int_size) == 0 && linger == 0);
    CHECK (zmq_setsockopt (dealer, ZMQ_ROUTING_ID, "D1", 2) == 0);
    char id[8];
    size_t id_size = sizeof id;
    CHECK (zmq_getsockopt (dealer, ZMQ_ROUTING_ID, id, &id_size) == 0 && id_size == 2);
    CHECK (zmq_bind (router, "ipc://*") == 0);
    char endpoint[256];
    size_t endpoint_size = sizeof endpoint;
    CHECK (zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_size) == 0);
    CHECK (strncmp (endpoint, "ipc://", 6) == 0);
    CHECK (zmq_connect (dealer, endpoint) == 0);
    CHECK (zmq_send (dealer, "order", 5, 0) == 5);
    char buf[16];
    CHECK (zmq_recv (router, buf, sizeof buf, 0) == 2 && memcmp (buf, "D1", 2) == 0);
    CHECK (zmq_recv (router, buf, sizeof buf, 0) == 5 && memcmp (buf, "order", 5) == 0);
    CHECK (zmq_send (router, "D1", 2, ZMQ_SNDMORE) == 2);
    CHECK (zmq_send (router, "filled", 6, 0) == 6);
    CHECK (zmq_recv (dealer, buf, sizeof buf, 0) == 6 && memcmp (buf, "filled", 6) == 0);
    int mandatory = 1;
    CHECK (zmq_setsockopt (router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory) == 0);
    /* As libzmq: the routing id is refused at the first frame. */
    CHECK (zmq_send (router, "nobody", 6, ZMQ_SNDMORE) == -1 && zmq_errno () == EHOSTUNREACH);
    /* A routing id alone, with no frame after it, is taken and dropped. */
    CHECK (zmq_send (router, "D1", 2, 0) == 2);
    CHECK (zmq_send (router, "D1", 2, ZMQ_SNDMORE) == 2);
    CHECK (zmq_send (router, "again", 5, 0) == 5);
    CHECK (zmq_recv (dealer, buf, sizeof buf, 0) == 5 && memcmp (buf, "again", 5) == 0);

    void *pub = zmq_socket (ctx, ZMQ_PUB);
    void *sub = zmq_socket (ctx, ZMQ_SUB);
    CHECK (zmq_bind (pub, "inproc://quotes") == 0);
    CHECK (zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "EUR", 3) == 0);
    CHECK (zmq_connect (sub, "inproc://quotes") == 0);
    /* inproc: the subscription is at the PUB once connect returns. */
    int count = 0;
    size_t count_size = sizeof count;
    CHECK (zmq_getsockopt (pub, 116 /* ZMQ_TOPICS_COUNT */, &count, &count_size) == 0);
    CHECK (count == 1);
    CHECK (zmq_send (pub, "USDJPY 150", 10, 0) == 10);
    CHECK (zmq_send (pub, "EURUSD 1.08", 11, 0) == 11);
    CHECK (zmq_recv (sub, buf, sizeof buf, 0) == 11 && memcmp (buf, "EURUSD", 6) == 0);
    CHECK (zmq_recv (sub, buf, sizeof buf, ZMQ_DONTWAIT) == -1 && zmq_errno () == EAGAIN);
    CHECK (zmq_setsockopt (sub, ZMQ_UNSUBSCRIBE, "EUR", 3) == 0);
    void *sockets[] = {router, dealer, pub, sub};
    for (int i = 0; i < 4; i++)
        CHECK (zmq_close (sockets[i]) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    printf ("ok\n");
    return 0;
}
