/* zmq_socket_monitor's frames, zmq_proxy_steerable driven from its control
 * socket, a CURVE client and server set up with zmq_curve_keypair and the
 * CURVE options, PLAIN options and ZMQ_MECHANISM, Z85 (RFC 32's example),
 * the atomic counter, zmq_threadstart and the stopwatch. */
#include "check.h"
#include <pthread.h>
#include <stdint.h>

/* Reads the next event from a monitor PAIR: returns its number. */
static int next_event (void *monitor, char *endpoint, size_t size)
{
    zmq_msg_t frame;
    CHECK (zmq_msg_init (&frame) == 0);
    CHECK (zmq_msg_recv (&frame, monitor, 0) == 6 && zmq_msg_more (&frame));
    uint8_t *head = zmq_msg_data (&frame);
    int event = head[0] | head[1] << 8;
    CHECK (zmq_msg_recv (&frame, monitor, 0) >= 0 && !zmq_msg_more (&frame));
    size_t n = zmq_msg_size (&frame) < size - 1 ? zmq_msg_size (&frame) : size - 1;
    memcpy (endpoint, zmq_msg_data (&frame), n);
    endpoint[n] = 0;
    CHECK (zmq_msg_close (&frame) == 0);
    return event;
}

struct proxy_args
{
    void *frontend, *backend, *control;
    int rc;
};

static void bump (void *counter)
{
    zmq_atomic_counter_inc (counter);
}

static void *run_proxy (void *p)
{
    struct proxy_args *a = p;
    a->rc = zmq_proxy_steerable (a->frontend, a->backend, NULL, a->control);
    return NULL;
}

int main (void)
{
    print_library ();
    void *ctx = zmq_ctx_new ();
    char endpoint[256], buf[64];

    /* Monitor: a bind, a connection, its handshake, then the close. */
    void *server = zmq_socket (ctx, ZMQ_PULL);
    CHECK (zmq_socket_monitor (server, "tcp://127.0.0.1:0", ZMQ_EVENT_ALL) == -1
           && zmq_errno () == EPROTONOSUPPORT);
    CHECK (zmq_socket_monitor (server, "inproc://monitor", ZMQ_EVENT_ALL) == 0);
    void *monitor = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (zmq_connect (monitor, "inproc://monitor") == 0);
    CHECK (zmq_bind (server, "tcp://127.0.0.1:*") == 0);
    size_t size = sizeof endpoint;
    CHECK (zmq_getsockopt (server, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0);
    char seen[256];
    CHECK (next_event (monitor, seen, sizeof seen) == ZMQ_EVENT_LISTENING);
    CHECK (strcmp (seen, endpoint) == 0);
    void *client = zmq_socket (ctx, ZMQ_PUSH);
    CHECK (zmq_connect (client, endpoint) == 0);
    CHECK (next_event (monitor, seen, sizeof seen) == ZMQ_EVENT_ACCEPTED);
    CHECK (next_event (monitor, seen, sizeof seen) == ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    int linger = 0;
    CHECK (zmq_setsockopt (server, ZMQ_LINGER, &linger, sizeof linger) == 0);
    CHECK (zmq_close (server) == 0);
    int event;
    do
        event = next_event (monitor, seen, sizeof seen);
    while (event != ZMQ_EVENT_MONITOR_STOPPED);
    CHECK (zmq_setsockopt (client, ZMQ_LINGER, &linger, sizeof linger) == 0);
    CHECK (zmq_close (client) == 0);
    CHECK (zmq_close (monitor) == 0);

    /* Stopping a monitor (NULL endpoint) and replacing one each send
       MONITOR_STOPPED at once, as libzmq's stop_monitor does. (Each round
       has its own endpoint: the stopped monitor's PAIR is closed as
       zmq_close closes, in the background, in libzmq too.) */
    void *watched = zmq_socket (ctx, ZMQ_DEALER);
    for (int round = 0; round < 2; round++) {
        const char *watch = round == 0 ? "inproc://watch-0" : "inproc://watch-1";
        CHECK (zmq_socket_monitor (watched, watch, ZMQ_EVENT_ALL) == 0);
        void *watcher = zmq_socket (ctx, ZMQ_PAIR);
        CHECK (zmq_connect (watcher, watch) == 0);
        CHECK (zmq_socket_monitor (watched, round == 0 ? NULL : "inproc://watch-2",
                                   ZMQ_EVENT_ALL)
               == 0);
        CHECK (next_event (watcher, seen, sizeof seen) == ZMQ_EVENT_MONITOR_STOPPED);
        CHECK (zmq_close (watcher) == 0);
    }
    CHECK (zmq_socket_monitor (watched, NULL, 0) == 0);
    CHECK (zmq_close (watched) == 0);

    /* A steerable proxy on its own thread. */
    void *frontend = zmq_socket (ctx, ZMQ_PULL);
    void *backend = zmq_socket (ctx, ZMQ_PUSH);
    void *control = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (zmq_bind (frontend, "inproc://in") == 0 && zmq_bind (backend, "inproc://out") == 0);
    CHECK (zmq_bind (control, "inproc://control") == 0);
    void *steering = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (zmq_connect (steering, "inproc://control") == 0);
    void *source = zmq_socket (ctx, ZMQ_PUSH);
    void *sink = zmq_socket (ctx, ZMQ_PULL);
    CHECK (zmq_connect (source, "inproc://in") == 0 && zmq_connect (sink, "inproc://out") == 0);
    struct proxy_args args = {frontend, backend, control, -1};
    pthread_t proxy;
    CHECK (pthread_create (&proxy, NULL, run_proxy, &args) == 0);
    CHECK (zmq_send (source, "work", 4, ZMQ_SNDMORE) == 4);
    CHECK (zmq_send (source, "item", 4, 0) == 4);
    CHECK (zmq_recv (sink, buf, sizeof buf, 0) == 4 && memcmp (buf, "work", 4) == 0);
    CHECK (zmq_recv (sink, buf, sizeof buf, 0) == 4 && memcmp (buf, "item", 4) == 0);
    CHECK (zmq_send (steering, "STATISTICS", 10, 0) == 10);
    uint64_t stats[8];
    for (int i = 0; i < 8; i++) {
        CHECK (zmq_recv (steering, &stats[i], sizeof stats[i], 0) == 8);
        int more;
        size_t more_size = sizeof more;
        CHECK (zmq_getsockopt (steering, ZMQ_RCVMORE, &more, &more_size) == 0);
        CHECK (more == (i < 7));
    }
    /* Frontend messages and bytes in; backend messages and bytes out: a
       multipart message counts once, as libzmq 4.3.4 counts. */
    CHECK (stats[0] == 1 && stats[1] == 8 && stats[6] == 1 && stats[7] == 8);
    CHECK (zmq_send (steering, "TERMINATE", 9, 0) == 9);
    CHECK (pthread_join (proxy, NULL) == 0);
    CHECK (args.rc == 0);
    void *proxied[] = {frontend, backend, control, steering, source, sink};
    for (int i = 0; i < 6; i++) {
        CHECK (zmq_setsockopt (proxied[i], ZMQ_LINGER, &linger, sizeof linger) == 0);
        CHECK (zmq_close (proxied[i]) == 0);
    }

    /* CURVE: keys from zmq_curve_keypair, a server and a client. */
    CHECK (zmq_has ("curve") == 1);
    char server_public[41], server_secret[41], client_public[41], client_secret[41], derived[41];
    CHECK (zmq_curve_keypair (server_public, server_secret) == 0);
    CHECK (zmq_curve_keypair (client_public, client_secret) == 0);
    CHECK (zmq_curve_public (derived, server_secret) == 0 && strcmp (derived, server_public) == 0);
    void *curve_server = zmq_socket (ctx, ZMQ_REP);
    void *curve_client = zmq_socket (ctx, ZMQ_REQ);
    int one = 1, mechanism = -1;
    size_t int_size = sizeof (int);
    CHECK (zmq_setsockopt (curve_server, ZMQ_CURVE_SERVER, &one, sizeof one) == 0);
    CHECK (zmq_setsockopt (curve_server, ZMQ_CURVE_SECRETKEY, server_secret, 40) == 0);
    CHECK (zmq_getsockopt (curve_server, ZMQ_MECHANISM, &mechanism, &int_size) == 0);
    CHECK (mechanism == ZMQ_CURVE);
    CHECK (zmq_setsockopt (curve_client, ZMQ_CURVE_SERVERKEY, server_public, 41) == 0);
    CHECK (zmq_setsockopt (curve_client, ZMQ_CURVE_PUBLICKEY, client_public, 40) == 0);
    CHECK (zmq_setsockopt (curve_client, ZMQ_CURVE_SECRETKEY, client_secret, 40) == 0);
    CHECK (zmq_setsockopt (curve_client, ZMQ_CURVE_SECRETKEY, "too short", 9) == -1
           && zmq_errno () == EINVAL);
    CHECK (zmq_bind (curve_server, "tcp://127.0.0.1:*") == 0);
    size = sizeof endpoint;
    CHECK (zmq_getsockopt (curve_server, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0);
    CHECK (zmq_connect (curve_client, endpoint) == 0);
    CHECK (zmq_send (curve_client, "secret", 6, 0) == 6);
    CHECK (zmq_recv (curve_server, buf, sizeof buf, 0) == 6 && memcmp (buf, "secret", 6) == 0);
    CHECK (zmq_send (curve_server, "sealed", 6, 0) == 6);
    CHECK (zmq_recv (curve_client, buf, sizeof buf, 0) == 6 && memcmp (buf, "sealed", 6) == 0);
    CHECK (zmq_close (curve_server) == 0 && zmq_close (curve_client) == 0);

    /* PLAIN options and ZMQ_MECHANISM. */
    void *plain = zmq_socket (ctx, ZMQ_DEALER);
    CHECK (zmq_setsockopt (plain, ZMQ_PLAIN_USERNAME, "admin", 5) == 0);
    CHECK (zmq_setsockopt (plain, ZMQ_PLAIN_PASSWORD, "secret", 6) == 0);
    CHECK (zmq_getsockopt (plain, ZMQ_MECHANISM, &mechanism, &int_size) == 0);
    CHECK (mechanism == ZMQ_PLAIN);
    size = sizeof buf;
    CHECK (zmq_getsockopt (plain, ZMQ_PLAIN_USERNAME, buf, &size) == 0 && strcmp (buf, "admin") == 0);
    CHECK (zmq_setsockopt (plain, ZMQ_PLAIN_USERNAME, NULL, 0) == 0);
    CHECK (zmq_getsockopt (plain, ZMQ_MECHANISM, &mechanism, &int_size) == 0);
    CHECK (mechanism == ZMQ_NULL);
    CHECK (zmq_close (plain) == 0);

    /* Z85: RFC 32's example. */
    uint8_t hello[8] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}, decoded[8];
    char text[11];
    CHECK (zmq_z85_encode (text, hello, 8) == text && strcmp (text, "HelloWorld") == 0);
    CHECK (zmq_z85_decode (decoded, "HelloWorld") == decoded && memcmp (decoded, hello, 8) == 0);
    CHECK (zmq_z85_encode (text, hello, 7) == NULL && zmq_errno () == EINVAL);
    CHECK (zmq_z85_decode (decoded, "Hello") != NULL && zmq_z85_decode (decoded, "Hell") == NULL);

    /* The atomic counter and the stopwatch. */
    void *counter = zmq_atomic_counter_new ();
    zmq_atomic_counter_set (counter, 2);
    CHECK (zmq_atomic_counter_inc (counter) == 2 && zmq_atomic_counter_value (counter) == 3);
    CHECK (zmq_atomic_counter_dec (counter) == 1 && zmq_atomic_counter_dec (counter) == 1);
    CHECK (zmq_atomic_counter_dec (counter) == 0);
    void *threads[4];
    for (int i = 0; i < 4; i++)
        CHECK ((threads[i] = zmq_threadstart (bump, counter)) != NULL);
    for (int i = 0; i < 4; i++)
        zmq_threadclose (threads[i]);
    CHECK (zmq_atomic_counter_value (counter) == 4);
    zmq_atomic_counter_destroy (&counter);
    CHECK (counter == NULL);
    void *watch = zmq_stopwatch_start ();
    unsigned long first = zmq_stopwatch_intermediate (watch);
    CHECK (zmq_stopwatch_stop (watch) >= first);

    CHECK (zmq_ctx_term (ctx) == 0);
    printf ("ok\n");
    return 0;
}
