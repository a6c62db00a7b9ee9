/* Hostile peers against a PULL bound through the C API: garbage instead of
   a greeting, a frame announcing 2^62 bytes, and 300 connections that say
   nothing and leave. Each bad connection is closed by the library (the
   peer reads end-of-stream), the process carries on, and a well-behaved
   PUSH connected throughout is served before, during and after. */
#include "check.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define SILENT 300

static int raw_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    CHECK (fd >= 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons ((unsigned short) port);
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    CHECK (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0);
    struct timeval limit = {20, 0};
    CHECK (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0);
    return fd;
}

/* Reads until the library closes the connection: end of stream or a
   reset; a timeout fails the check. */
static void expect_closed (int fd)
{
    char buf[256];
    for (;;) {
        ssize_t n = recv (fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
        CHECK (n > 0);
    }
    close (fd);
}

static void send_all (int fd, const void *data, size_t len)
{
    CHECK (send (fd, data, len, MSG_NOSIGNAL) == (ssize_t) len);
}

/* One message from the good peer arrives. */
static void good_peer_served (void *push, void *pull, const char *text)
{
    char buf[32];
    int len = (int) strlen (text);
    CHECK (zmq_send (push, text, len, 0) == len);
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == len && memcmp (buf, text, len) == 0);
}

int main (void)
{
    print_library ();
    void *ctx = zmq_ctx_new ();
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    int timeout = 20000;
    CHECK (zmq_setsockopt (pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
    CHECK (zmq_bind (pull, "tcp://127.0.0.1:*") == 0);
    char endpoint[64];
    size_t size = sizeof endpoint;
    CHECK (zmq_getsockopt (pull, ZMQ_LAST_ENDPOINT, endpoint, &size) == 0);
    int port = atoi (strrchr (endpoint, ':') + 1);
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    CHECK (zmq_connect (push, endpoint) == 0);
    good_peer_served (push, pull, "before");

    /* Garbage where the greeting's signature goes. */
    int fd = raw_connect (port);
    send_all (fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    expect_closed (fd);

    /* A proper greeting and READY, then a frame announcing 2^62 bytes. */
    fd = raw_connect (port);
    unsigned char greeting[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1, 'N', 'U', 'L', 'L'};
    send_all (fd, greeting, sizeof greeting);
    unsigned char ready[] = {0x04, 26, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k', 'e',
                             't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 4, 'P', 'U', 'S', 'H'};
    send_all (fd, ready, sizeof ready);
    unsigned char huge[] = {0x02, 0x40, 0, 0, 0, 0, 0, 0, 0};
    send_all (fd, huge, sizeof huge);
    expect_closed (fd);

    good_peer_served (push, pull, "during");

    /* Many that connect, say nothing and leave at once. */
    for (int i = 0; i < SILENT; i++)
        close (raw_connect (port));

    good_peer_served (push, pull, "after");
    CHECK (zmq_close (push) == 0 && zmq_close (pull) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    printf ("ok\n");
    return 0;
}
