/* Message buffers let go of are reused (the frame buffer pool): what a
   message says is never changed by a later message. Messages of many sizes
   over inproc and tcp, each checked byte for byte; a copy that shares its
   frame keeps it while new messages of its size are written; a caller's
   own buffer (zmq_msg_init_data) is freed by its function once and never
   written by the library; a reused buffer (the pool's, or the one a
   thread keeps from its last send) comes cleared out of zmq_msg_init_size. Sizes up to 300 bytes and, one message in five, one
   of a dozen larger ones (the pool keeps eight sizes above 256 bytes, up
   to 16 KiB). Prints "ok". */
#include "check.h"

enum { ROUNDS = 40, BATCH = 300, MAX_SIZE = 300 };

static const size_t large[] = {1024, 1500, 2048, 2049, 4096, 8000,
                               9000, 12345, 16384, 16385, 20000, 65536};

static size_t size_of (int round, int i)
{
    if (i % 5 == 0)
        return large[(round + i / 5) % (sizeof large / sizeof large[0])];
    return (size_t) ((round * 7 + i) % MAX_SIZE) + 1;
}

/* Buffers of `size` given back and taken again are cleared: filled with
   junk and let go of, then each new one is checked. */
static void fresh_ones_are_cleared (size_t size)
{
    for (int i = 0; i < 50; i++) {
        zmq_msg_t fresh;
        CHECK (zmq_msg_init_size (&fresh, size) == 0);
        unsigned char *data = zmq_msg_data (&fresh);
        for (size_t at = 0; at < size; at++)
            CHECK (data[at] == 0);
        memset (data, 'j', size);
        CHECK (zmq_msg_close (&fresh) == 0);
    }
}

static unsigned char byte_of (int round, int i, size_t at)
{
    return (unsigned char) (round * 31 + i * 7 + (int) at);
}

/* Sends BATCH messages of varied sizes from `tx`, then receives them on
   `rx` into one zmq_msg_t, checking each. */
static void round_trip (void *tx, void *rx, int round)
{
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t msg;
        size_t size = size_of (round, i);
        CHECK (zmq_msg_init_size (&msg, size) == 0);
        unsigned char *data = zmq_msg_data (&msg);
        for (size_t at = 0; at < size; at++)
            data[at] = byte_of (round, i, at);
        CHECK (zmq_msg_send (&msg, tx, 0) == (int) size);
        CHECK (zmq_msg_close (&msg) == 0);
    }
    zmq_msg_t msg;
    CHECK (zmq_msg_init (&msg) == 0);
    for (int i = 0; i < BATCH; i++) {
        size_t size = size_of (round, i);
        CHECK (zmq_msg_recv (&msg, rx, 0) == (int) size);
        const unsigned char *data = zmq_msg_data (&msg);
        for (size_t at = 0; at < size; at++)
            CHECK (data[at] == byte_of (round, i, at));
    }
    CHECK (zmq_msg_close (&msg) == 0);
}

static int freed;
static unsigned char own[64];

static void count_free (void *data, void *hint)
{
    (void) hint;
    CHECK (data == own);
    freed++;
}

/* A buffer whose message a send copied out (tcp, small: encoded into the
   send lane) is the thread's next of its size: it comes cleared, and what
   was sent in it arrives as it was. */
static void sent_buffers_come_back_cleared (void *tx, void *rx, size_t size)
{
    for (int i = 0; i < 20; i++) {
        zmq_msg_t msg;
        CHECK (zmq_msg_init_size (&msg, size) == 0);
        unsigned char *data = zmq_msg_data (&msg);
        for (size_t at = 0; at < size; at++)
            CHECK (data[at] == 0);
        memset (data, 'a' + i, size);
        CHECK (zmq_msg_send (&msg, tx, 0) == (int) size);
        CHECK (zmq_msg_close (&msg) == 0);
    }
    for (int i = 0; i < 20; i++) {
        zmq_msg_t msg;
        CHECK (zmq_msg_init (&msg) == 0);
        CHECK (zmq_msg_recv (&msg, rx, 0) == (int) size);
        const unsigned char *data = zmq_msg_data (&msg);
        for (size_t at = 0; at < size; at++)
            CHECK (data[at] == 'a' + i);
        CHECK (zmq_msg_close (&msg) == 0);
    }
}

int main (void)
{
    print_library ();
    void *ctx = zmq_ctx_new ();
    CHECK (ctx);

    /* inproc: the receiving thread lets go of the sender's buffers. */
    void *a = zmq_socket (ctx, ZMQ_PAIR);
    void *b = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (zmq_bind (a, "inproc://reused") == 0);
    CHECK (zmq_connect (b, "inproc://reused") == 0);
    for (int round = 0; round < ROUNDS; round++)
        round_trip (b, a, round);

    /* tcp: the context's thread copies bodies out and lets go of sent ones. */
    void *c = zmq_socket (ctx, ZMQ_PAIR);
    void *d = zmq_socket (ctx, ZMQ_PAIR);
    char endpoint[256];
    size_t len = sizeof endpoint;
    CHECK (zmq_bind (c, "tcp://127.0.0.1:*") == 0);
    CHECK (zmq_getsockopt (c, ZMQ_LAST_ENDPOINT, endpoint, &len) == 0);
    CHECK (zmq_connect (d, endpoint) == 0);
    for (int round = 0; round < ROUNDS; round++)
        round_trip (d, c, round);
    sent_buffers_come_back_cleared (d, c, 1);
    sent_buffers_come_back_cleared (d, c, 100);
    sent_buffers_come_back_cleared (d, c, 256);
    sent_buffers_come_back_cleared (d, c, 1024);
    fresh_ones_are_cleared (100);
    fresh_ones_are_cleared (1024);
    fresh_ones_are_cleared (16384);

    /* A copy sharing its frame keeps it while new messages of its size are
       made and written. */
    zmq_msg_t original, copy;
    CHECK (zmq_msg_init_size (&original, 100) == 0);
    memset (zmq_msg_data (&original), 'x', 100);
    CHECK (zmq_msg_init (&copy) == 0);
    CHECK (zmq_msg_copy (&copy, &original) == 0);
    CHECK (zmq_msg_close (&original) == 0);
    for (int i = 0; i < 100; i++) {
        zmq_msg_t fresh;
        CHECK (zmq_msg_init_size (&fresh, 100) == 0);
        memset (zmq_msg_data (&fresh), 'y', 100);
        CHECK (zmq_msg_close (&fresh) == 0);
    }
    const char *kept = zmq_msg_data (&copy);
    for (int at = 0; at < 100; at++)
        CHECK (kept[at] == 'x');
    CHECK (zmq_msg_close (&copy) == 0);

    /* The caller's buffer goes back to the caller, once, unwritten. */
    memset (own, 'o', sizeof own);
    zmq_msg_t theirs;
    CHECK (zmq_msg_init_data (&theirs, own, sizeof own, count_free, NULL) == 0);
    CHECK (zmq_msg_send (&theirs, b, 0) == (int) sizeof own);
    zmq_msg_t got;
    CHECK (zmq_msg_init (&got) == 0);
    CHECK (zmq_msg_recv (&got, a, 0) == (int) sizeof own);
    CHECK (zmq_msg_close (&got) == 0);
    CHECK (zmq_msg_close (&theirs) == 0);
    CHECK (freed == 1);
    for (int i = 0; i < 100; i++) {
        zmq_msg_t fresh;
        CHECK (zmq_msg_init_size (&fresh, sizeof own) == 0);
        memset (zmq_msg_data (&fresh), 'z', sizeof own);
        CHECK (zmq_msg_close (&fresh) == 0);
    }
    for (size_t at = 0; at < sizeof own; at++)
        CHECK (own[at] == 'o');
    CHECK (freed == 1);

    CHECK (zmq_close (a) == 0);
    CHECK (zmq_close (b) == 0);
    CHECK (zmq_close (c) == 0);
    CHECK (zmq_close (d) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    printf ("ok\n");
    return 0;
}
