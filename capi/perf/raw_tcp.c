/* The raw-socket floor beside libzmq's perf tools (scripts/libzmq-perf):
 * what plain blocking TCP sockets on loopback do with the same message
 * sizes and counts, the same placement, and no messaging library at all.
 *
 *   raw_tcp lat-server PORT SIZE COUNT   echoes COUNT messages of SIZE bytes
 *   raw_tcp lat-client PORT SIZE COUNT   sends one, waits for its echo, COUNT
 *                                        times; prints the one-way latency as
 *                                        local_lat does (round trip / 2)
 *   raw_tcp thr-server PORT SIZE COUNT   reads COUNT messages' bytes; prints
 *                                        msg/s as local_thr does (first byte
 *                                        to last)
 *   raw_tcp thr-client PORT SIZE COUNT   writes them, 256 KiB at a time
 *
 * Latency: one write and one read per message each way, TCP_NODELAY, the
 * least any request-reply over TCP costs here. Throughput: each message
 * is SIZE bytes plus a 2-byte header (a ZMTP short frame's), written in
 * 256 KiB writes and reads (the fewest system calls): the bytes the
 * kernel must move, nothing parsed. Both bind 127.0.0.1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH (256 * 1024)

static void die (const char *what)
{
    perror (what);
    exit (1);
}

static double now_us (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void nodelay (int fd)
{
    int one = 1;
    if (setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die ("TCP_NODELAY");
}

static struct sockaddr_in loopback (int port)
{
    struct sockaddr_in a;
    memset (&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons ((uint16_t) port);
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    return a;
}

static int accept_one (int port)
{
    int l = socket (AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (l < 0)
        die ("socket");
    setsockopt (l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback (port);
    if (bind (l, (struct sockaddr *) &a, sizeof a) != 0)
        die ("bind");
    if (listen (l, 1) != 0)
        die ("listen");
    int fd = accept (l, NULL, NULL);
    if (fd < 0)
        die ("accept");
    close (l);
    nodelay (fd);
    return fd;
}

/* The server may not listen yet: retried for up to 5 s. */
static int connect_to (int port)
{
    struct sockaddr_in a = loopback (port);
    for (int tries = 0; tries < 5000; tries++) {
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die ("socket");
        if (connect (fd, (struct sockaddr *) &a, sizeof a) == 0) {
            nodelay (fd);
            return fd;
        }
        close (fd);
        usleep (1000);
    }
    die ("connect");
    return -1;
}

static void read_exact (int fd, char *buf, size_t n)
{
    while (n > 0) {
        ssize_t r = read (fd, buf, n);
        if (r <= 0)
            die ("read");
        buf += r;
        n -= (size_t) r;
    }
}

static void write_exact (int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write (fd, buf, n);
        if (w <= 0)
            die ("write");
        buf += w;
        n -= (size_t) w;
    }
}

int main (int argc, char **argv)
{
    if (argc != 5) {
        fprintf (stderr, "usage: raw_tcp lat-server|lat-client|thr-server|thr-client PORT SIZE COUNT\n");
        return 1;
    }
    const char *mode = argv[1];
    int port = atoi (argv[2]);
    size_t size = (size_t) atol (argv[3]);
    long count = atol (argv[4]);
    char *buf = calloc (1, size > BATCH ? size : BATCH);
    if (!buf || count <= 0)
        die ("arguments");

    if (strcmp (mode, "lat-server") == 0) {
        int fd = accept_one (port);
        for (long i = 0; i < count; i++) {
            read_exact (fd, buf, size);
            write_exact (fd, buf, size);
        }
        close (fd);
    } else if (strcmp (mode, "lat-client") == 0) {
        int fd = connect_to (port);
        double start = now_us ();
        for (long i = 0; i < count; i++) {
            write_exact (fd, buf, size);
            read_exact (fd, buf, size);
        }
        double elapsed = now_us () - start;
        printf ("message size: %zu [B]\nroundtrip count: %ld\naverage latency: %.3f [us]\n",
                size, count, elapsed / count / 2);
        close (fd);
    } else if (strcmp (mode, "thr-server") == 0) {
        int fd = accept_one (port);
        uint64_t total = (uint64_t) count * (size + 2), got = 0;
        double start = 0;
        while (got < total) {
            uint64_t want = total - got < BATCH ? total - got : BATCH;
            ssize_t r = read (fd, buf, (size_t) want);
            if (r <= 0)
                die ("read");
            if (got == 0)
                start = now_us ();
            got += (uint64_t) r;
        }
        double elapsed = now_us () - start;
        printf ("message size: %zu [B]\nmessage count: %ld\nmean throughput: %.0f [msg/s]\n",
                size, count, count / (elapsed / 1e6));
        close (fd);
    } else if (strcmp (mode, "thr-client") == 0) {
        int fd = connect_to (port);
        uint64_t total = (uint64_t) count * (size + 2), sent = 0;
        while (sent < total) {
            uint64_t n = total - sent < BATCH ? total - sent : BATCH;
            write_exact (fd, buf, (size_t) n);
            sent += n;
        }
        close (fd);
    } else {
        fprintf (stderr, "unknown mode %s\n", mode);
        return 1;
    }
    free (buf);
    return 0;
}
