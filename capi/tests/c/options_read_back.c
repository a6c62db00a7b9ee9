/* Options read back as libzmq returns them: the TCP and security options,
   CURVE keys in both forms, the socket type numbers, AFFINITY's EMTHREAD, the endpoint errors libzmq
   gives (EINVAL without "://", EPROTONOSUPPORT, ENAMETOOLONG). */
#include "check.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int get_int (void *s, int option)
{
    int value = -12345;
    size_t size = sizeof value;
    CHECK (zmq_getsockopt (s, option, &value, &size) == 0 && size == sizeof value);
    return value;
}

static void set_int (void *s, int option, int value)
{
    CHECK (zmq_setsockopt (s, option, &value, sizeof value) == 0);
}

int main (void)
{
    print_library ();
    void *ctx = zmq_ctx_new ();
    CHECK (ctx);
    /* The twelve socket types of the stable API, by libzmq's numbers. */
    for (int type = ZMQ_PAIR; type <= ZMQ_STREAM; type++) {
        void *s = zmq_socket (ctx, type);
        CHECK (s);
        CHECK (get_int (s, ZMQ_TYPE) == type);
        CHECK (zmq_close (s) == 0);
    }
    CHECK (zmq_socket (ctx, ZMQ_STREAM + 1) == NULL && zmq_errno () == EINVAL);

    void *pub = zmq_socket (ctx, ZMQ_PUB);
    CHECK (pub);

    /* An int read into a larger buffer: the rest is cleared, as libzmq
       does, so it reads back as the int. */
    int64_t wide;
    memset (&wide, 0xff, sizeof wide);
    size_t wide_size = sizeof wide;
    CHECK (zmq_getsockopt (pub, ZMQ_SNDHWM, &wide, &wide_size) == 0 && wide_size == sizeof (int)
           && wide == 1000);

    /* TCP options: libzmq's defaults, then what was set. */
    CHECK (get_int (pub, ZMQ_TOS) == 0);
    CHECK (get_int (pub, ZMQ_TCP_KEEPALIVE) == -1);
    CHECK (get_int (pub, ZMQ_TCP_KEEPALIVE_IDLE) == -1);
    CHECK (get_int (pub, ZMQ_TCP_MAXRT) == 0);
    set_int (pub, ZMQ_TOS, 0x28);
    set_int (pub, ZMQ_TCP_KEEPALIVE, 1);
    set_int (pub, ZMQ_TCP_KEEPALIVE_IDLE, 30);
    set_int (pub, ZMQ_TCP_KEEPALIVE_INTVL, 5);
    set_int (pub, ZMQ_TCP_KEEPALIVE_CNT, 4);
    set_int (pub, ZMQ_TCP_MAXRT, 2500);
    CHECK (get_int (pub, ZMQ_TOS) == 0x28);
    CHECK (get_int (pub, ZMQ_TCP_KEEPALIVE) == 1);
    CHECK (get_int (pub, ZMQ_TCP_KEEPALIVE_IDLE) == 30);
    CHECK (get_int (pub, ZMQ_TCP_KEEPALIVE_INTVL) == 5);
    CHECK (get_int (pub, ZMQ_TCP_KEEPALIVE_CNT) == 4);
    CHECK (get_int (pub, ZMQ_TCP_MAXRT) == 2500);

    char text[64];
    size_t size = sizeof text;
    CHECK (zmq_getsockopt (pub, ZMQ_BINDTODEVICE, text, &size) == 0 && size == 1 && text[0] == 0);
    CHECK (zmq_setsockopt (pub, ZMQ_BINDTODEVICE, "lo", 2) == 0);
    size = sizeof text;
    CHECK (zmq_getsockopt (pub, ZMQ_BINDTODEVICE, text, &size) == 0 && size == 3
           && strcmp (text, "lo") == 0);
    CHECK (zmq_setsockopt (pub, ZMQ_ZAP_DOMAIN, "global", 6) == 0);
    size = sizeof text;
    CHECK (zmq_getsockopt (pub, ZMQ_ZAP_DOMAIN, text, &size) == 0 && size == 7
           && strcmp (text, "global") == 0);

    /* SOCKS_PROXY reads back as set; NULL clears it, "" is refused. The
       draft SOCKS_USERNAME (99) and SOCKS_PASSWORD (100): up to 255 bytes. */
    size = sizeof text;
    CHECK (zmq_getsockopt (pub, ZMQ_SOCKS_PROXY, text, &size) == 0 && size == 1 && text[0] == 0);
    CHECK (zmq_setsockopt (pub, ZMQ_SOCKS_PROXY, "somehost:1080", 13) == 0);
    size = sizeof text;
    CHECK (zmq_getsockopt (pub, ZMQ_SOCKS_PROXY, text, &size) == 0 && size == 14
           && strcmp (text, "somehost:1080") == 0);
    CHECK (zmq_setsockopt (pub, ZMQ_SOCKS_PROXY, "", 0) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_setsockopt (pub, ZMQ_SOCKS_PROXY, NULL, 0) == 0);
    size = sizeof text;
    CHECK (zmq_getsockopt (pub, ZMQ_SOCKS_PROXY, text, &size) == 0 && size == 1);
    char name[256];
    memset (name, 'u', sizeof name);
    CHECK (zmq_setsockopt (pub, 99, name, 256) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_setsockopt (pub, 99, name, 255) == 0);
    CHECK (zmq_setsockopt (pub, 100, "pw", 2) == 0);
    char long_text[300];
    size = sizeof long_text;
    CHECK (zmq_getsockopt (pub, 99, long_text, &size) == 0 && size == 256);
    size = sizeof text;
    CHECK (zmq_getsockopt (pub, 100, text, &size) == 0 && strcmp (text, "pw") == 0);
    CHECK (zmq_setsockopt (pub, 99, NULL, 0) == 0);
    size = sizeof text;
    CHECK (zmq_getsockopt (pub, 99, text, &size) == 0 && size == 1);

    /* IPV4ONLY is the inverse of IPV6. */
    CHECK (get_int (pub, ZMQ_IPV4ONLY) == 1);
    set_int (pub, ZMQ_IPV4ONLY, 0);
    CHECK (get_int (pub, ZMQ_IPV6) == 1 && get_int (pub, ZMQ_IPV4ONLY) == 0);
    set_int (pub, ZMQ_IPV6, 0);

    /* Not offered: read as libzmq's defaults, refused when set. */
    CHECK (get_int (pub, ZMQ_RATE) == 100);
    CHECK (get_int (pub, ZMQ_RECOVERY_IVL) == 10000);
    int fd = 3;
    CHECK (zmq_setsockopt (pub, ZMQ_RATE, &fd, sizeof fd) == -1 && zmq_errno () == EINVAL);

    /* USE_FD: a number until a tcp bind takes the listening socket over;
       the endpoint then is the socket's own address. */
    CHECK (get_int (pub, ZMQ_USE_FD) == -1);
    int made = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t addr_size = sizeof addr;
    CHECK (made >= 0 && bind (made, (struct sockaddr *) &addr, sizeof addr) == 0);
    CHECK (listen (made, 8) == 0);
    CHECK (getsockname (made, (struct sockaddr *) &addr, &addr_size) == 0);
    set_int (pub, ZMQ_USE_FD, made);
    CHECK (get_int (pub, ZMQ_USE_FD) == made);
    CHECK (zmq_bind (pub, "tcp://127.0.0.1:1") == 0);
    char bound[64], expected[64];
    size = sizeof bound;
    CHECK (zmq_getsockopt (pub, ZMQ_LAST_ENDPOINT, bound, &size) == 0);
    snprintf (expected, sizeof expected, "tcp://127.0.0.1:%d", ntohs (addr.sin_port));
    CHECK (strcmp (bound, expected) == 0);
    CHECK (get_int (pub, ZMQ_USE_FD) == made);

    /* A bind that fails leaves USE_FD's descriptor open and the
       application's, as libzmq's: here it is not listening yet (refused),
       then AFFINITY names no I/O thread; once both are right, a bind takes
       it. */
    void *lender = zmq_socket (ctx, ZMQ_PULL);
    CHECK (lender);
    int idle = socket (AF_INET, SOCK_STREAM, 0);
    CHECK (idle >= 0);
    set_int (lender, ZMQ_USE_FD, idle);
    CHECK (zmq_bind (lender, "tcp://127.0.0.1:1") == -1 && zmq_errno () == EINVAL);
    CHECK (fcntl (idle, F_GETFD) != -1);
    CHECK (listen (idle, 8) == 0);
    uint64_t no_thread = 2;
    CHECK (zmq_setsockopt (lender, ZMQ_AFFINITY, &no_thread, sizeof no_thread) == 0);
    CHECK (zmq_bind (lender, "tcp://127.0.0.1:1") == -1 && zmq_errno () == EMTHREAD);
    CHECK (fcntl (idle, F_GETFD) != -1);
    CHECK (get_int (lender, ZMQ_USE_FD) == idle);
    uint64_t any_thread = 0;
    CHECK (zmq_setsockopt (lender, ZMQ_AFFINITY, &any_thread, sizeof any_thread) == 0);
    CHECK (zmq_bind (lender, "tcp://127.0.0.1:1") == 0);
    CHECK (zmq_close (lender) == 0);

    /* CURVE: the server flag, and each key as 32 bytes or Z85 with a NUL. */
    char public_text[41], secret_text[41];
    CHECK (zmq_curve_keypair (public_text, secret_text) == 0);
    void *server = zmq_socket (ctx, ZMQ_PULL);
    CHECK (server);
    CHECK (get_int (server, ZMQ_CURVE_SERVER) == 0);
    set_int (server, ZMQ_CURVE_SERVER, 1);
    CHECK (zmq_setsockopt (server, ZMQ_CURVE_SECRETKEY, secret_text, 40) == 0);
    CHECK (zmq_setsockopt (server, ZMQ_CURVE_PUBLICKEY, public_text, 41) == 0);
    CHECK (get_int (server, ZMQ_CURVE_SERVER) == 1);
    CHECK (get_int (server, ZMQ_MECHANISM) == ZMQ_CURVE);
    char z85[41];
    size = sizeof z85;
    CHECK (zmq_getsockopt (server, ZMQ_CURVE_SECRETKEY, z85, &size) == 0 && size == 41
           && strcmp (z85, secret_text) == 0);
    size = sizeof z85;
    CHECK (zmq_getsockopt (server, ZMQ_CURVE_PUBLICKEY, z85, &size) == 0 && size == 41
           && strcmp (z85, public_text) == 0);
    unsigned char binary[32], decoded[32];
    size = sizeof binary;
    CHECK (zmq_getsockopt (server, ZMQ_CURVE_PUBLICKEY, binary, &size) == 0 && size == 32);
    CHECK (zmq_z85_decode (decoded, public_text) != NULL);
    CHECK (memcmp (binary, decoded, 32) == 0);
    size = 20;
    CHECK (zmq_getsockopt (server, ZMQ_CURVE_PUBLICKEY, binary, &size) == -1
           && zmq_errno () == EINVAL);
    size = sizeof z85;
    CHECK (zmq_getsockopt (server, ZMQ_CURVE_SERVERKEY, z85, &size) == 0 && size == 41);
    CHECK (strcmp (z85, "0000000000000000000000000000000000000000") == 0);

    /* AFFINITY: the one I/O thread is bit 0. */
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    CHECK (push);
    uint64_t affinity = 2;
    CHECK (zmq_setsockopt (push, ZMQ_AFFINITY, &affinity, sizeof affinity) == 0);
    CHECK (zmq_bind (push, "tcp://127.0.0.1:*") == -1 && zmq_errno () == EMTHREAD);
    CHECK (zmq_bind (push, "inproc://affinity") == 0);
    affinity = 3;
    CHECK (zmq_setsockopt (push, ZMQ_AFFINITY, &affinity, sizeof affinity) == 0);
    uint64_t read_back = 0;
    size = sizeof read_back;
    CHECK (zmq_getsockopt (push, ZMQ_AFFINITY, &read_back, &size) == 0 && read_back == 3);
    CHECK (zmq_bind (push, "tcp://127.0.0.1:*") == 0);

    /* Endpoint errors. */
    CHECK (zmq_bind (pub, "tcp:*") == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_bind (pub, "rand://*") == -1 && zmq_errno () == EPROTONOSUPPORT);
    char path[200] = "ipc://";
    memset (path + 6, 'a', 108);
    path[6 + 108] = 0;
    CHECK (zmq_bind (pub, path) == -1 && zmq_errno () == ENAMETOOLONG);

    /* Flags as libzmq parses them: some take 0 or 1 only, the ROUTER, REQ
       and XPUB switches any non-negative int, INVERT_MATCHING any int. */
    void *req = zmq_socket (ctx, ZMQ_REQ);
    int ten = 10, minus = -1, two = 2;
    CHECK (zmq_setsockopt (req, ZMQ_REQ_CORRELATE, &ten, sizeof ten) == 0);
    CHECK (get_int (req, ZMQ_REQ_CORRELATE) == 1);
    CHECK (zmq_setsockopt (req, ZMQ_REQ_RELAXED, &minus, sizeof minus) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_setsockopt (req, ZMQ_IMMEDIATE, &two, sizeof two) == -1 && zmq_errno () == EINVAL);
    /* HEARTBEAT_TTL is kept in deciseconds, as a PING carries it. */
    set_int (req, ZMQ_HEARTBEAT_TTL, 99);
    CHECK (get_int (req, ZMQ_HEARTBEAT_TTL) == 0);
    set_int (req, ZMQ_HEARTBEAT_TTL, 6553599);
    CHECK (get_int (req, ZMQ_HEARTBEAT_TTL) == 6553500);
    int too_long = 6553600;
    CHECK (zmq_setsockopt (req, ZMQ_HEARTBEAT_TTL, &too_long, sizeof too_long) == -1
           && zmq_errno () == EINVAL);
    CHECK (zmq_close (req) == 0);
    CHECK (zmq_setsockopt (pub, ZMQ_INVERT_MATCHING, &minus, sizeof minus) == 0);
    CHECK (get_int (pub, ZMQ_INVERT_MATCHING) == 1);

    CHECK (zmq_close (push) == 0);
    CHECK (zmq_close (server) == 0);
    CHECK (zmq_close (pub) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    printf ("ok\n");
    return 0;
}
