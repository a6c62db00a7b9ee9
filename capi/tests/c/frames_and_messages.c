/* Frames, messages and errno through the C API, on one context:
 * multipart over inproc with SNDMORE/RCVMORE, zmq_msg_* (init_size,
 * init_data with a free function, copy, move, send, recv), DONTWAIT on an
 * empty queue, a REQ sending twice, bad arguments, options, zmq_poll,
 * zmq_sendiov/zmq_recviov, a failed zmq_msg_send keeping its message. */
#include "check.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/uio.h>

static int freed = 0;
static void free_buffer (void *data, void *hint)
{
    CHECK (hint == (void *) &freed);
    free (data);
    freed++;
}

int main (void)
{
    print_library ();
    int major, minor, patch;
    zmq_version (&major, &minor, &patch);
    CHECK (major == 4 && minor == 3);
    CHECK (zmq_has ("ipc") == 1 && zmq_has ("pgm") == 0);
    CHECK (strcmp (zmq_strerror (EFSM),
                   "Operation cannot be accomplished in current state")
           == 0);

    void *ctx = zmq_ctx_new ();
    CHECK (ctx != NULL);
    CHECK (zmq_ctx_get (ctx, ZMQ_MAX_SOCKETS) == ZMQ_MAX_SOCKETS_DFLT);
    CHECK (zmq_ctx_get (ctx, ZMQ_MSG_T_SIZE) == (int) sizeof (zmq_msg_t));
    /* Thread options: checked as libzmq checks them, applied to the
     * context's thread (its name and CPUs read back from /proc). */
    CHECK (zmq_ctx_set (ctx, ZMQ_THREAD_SCHED_POLICY, -1) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_ctx_set (ctx, ZMQ_THREAD_PRIORITY, -1) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_ctx_set (ctx, ZMQ_THREAD_AFFINITY_CPU_REMOVE, 0) == -1
           && zmq_errno () == EINVAL);
    CHECK (zmq_ctx_get (ctx, ZMQ_THREAD_SCHED_POLICY) == -1);
    CHECK (zmq_ctx_set (ctx, ZMQ_THREAD_SCHED_POLICY, 0 /* SCHED_OTHER */) == 0);
    CHECK (zmq_ctx_get (ctx, ZMQ_THREAD_SCHED_POLICY) == 0);
    CHECK (zmq_ctx_set (ctx, ZMQ_THREAD_AFFINITY_CPU_ADD, 0) == 0);
    CHECK (zmq_ctx_set (ctx, ZMQ_THREAD_AFFINITY_CPU_ADD, 1) == 0);
    CHECK (zmq_ctx_set (ctx, ZMQ_THREAD_AFFINITY_CPU_REMOVE, 1) == 0);
    CHECK (zmq_ctx_set (ctx, ZMQ_THREAD_AFFINITY_CPU_ADD, 1 << 20) == -1
           && zmq_errno () == EINVAL);
    CHECK (zmq_ctx_set (ctx, ZMQ_THREAD_NAME_PREFIX, 42) == 0);
    CHECK (zmq_ctx_get (ctx, ZMQ_THREAD_NAME_PREFIX) == 42);
    {
        char path[300], line[256];
        int found = 0;
        DIR *tasks = opendir ("/proc/self/task");
        CHECK (tasks != NULL);
        struct dirent *task;
        while (!found && (task = readdir (tasks)) != NULL) {
            snprintf (path, sizeof path, "/proc/self/task/%s/status", task->d_name);
            FILE *f = fopen (path, "r");
            if (!f)
                continue;
            int named = 0;
            while (fgets (line, sizeof line, f)) {
                if (strcmp (line, "Name:\t42/monocoque-ct\n") == 0)
                    named = 1;
                if (named && strcmp (line, "Cpus_allowed_list:\t0\n") == 0)
                    found = 1;
            }
            fclose (f);
        }
        closedir (tasks);
        CHECK (found);
    }
    CHECK (zmq_socket (ctx, 99) == NULL && zmq_errno () == EINVAL);
    CHECK (zmq_close (NULL) == -1 && zmq_errno () == ENOTSOCK);

    /* A multipart message's first frame waits for a peer with room, as
       libzmq's does: a DEALER with none times out there (SNDTIMEO), not at
       the last frame; with ZMQ_DONTWAIT it does not wait at all. */
    void *peerless = zmq_socket (ctx, ZMQ_DEALER);
    CHECK (peerless && zmq_bind (peerless, "ipc://*") == 0);
    int brief = 50;
    CHECK (zmq_setsockopt (peerless, ZMQ_SNDTIMEO, &brief, sizeof brief) == 0);
    CHECK (zmq_send (peerless, "first", 5, ZMQ_SNDMORE) == -1 && zmq_errno () == EAGAIN);
    CHECK (zmq_send (peerless, "first", 5, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1
           && zmq_errno () == EAGAIN);
    /* The IPC filters: each value adds one, NULL clears the list. */
    int id = 12345;
    CHECK (zmq_setsockopt (peerless, ZMQ_IPC_FILTER_UID, &id, sizeof id) == 0);
    CHECK (zmq_setsockopt (peerless, ZMQ_IPC_FILTER_GID, &id, sizeof id) == 0);
    CHECK (zmq_setsockopt (peerless, ZMQ_IPC_FILTER_PID, &id, sizeof id) == 0);
    CHECK (zmq_setsockopt (peerless, ZMQ_IPC_FILTER_PID, NULL, 0) == 0);
    CHECK (zmq_setsockopt (peerless, ZMQ_IPC_FILTER_UID, &id, 2) == -1 && zmq_errno () == EINVAL);
    /* An empty value that is not NULL is refused, as libzmq's. */
    CHECK (zmq_setsockopt (peerless, ZMQ_IPC_FILTER_GID, &id, 0) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_setsockopt (peerless, ZMQ_TCP_ACCEPT_FILTER, "", 0) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_setsockopt (peerless, ZMQ_TCP_ACCEPT_FILTER, NULL, 0) == 0);
    char wide[300];
    memset (wide, '1', sizeof wide);
    CHECK (zmq_setsockopt (peerless, ZMQ_TCP_ACCEPT_FILTER, wide, 255) == -1
           && zmq_errno () == EINVAL);
    CHECK (zmq_close (peerless) == 0);

    /* Multipart over inproc, frame by frame. */
    void *pull = zmq_socket (ctx, ZMQ_PAIR);
    void *push = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (pull && push);
    CHECK (zmq_bind (pull, "inproc://frames") == 0);
    CHECK (zmq_connect (push, "inproc://frames") == 0);
    char buf[16];
    CHECK (zmq_recv (pull, buf, sizeof buf, ZMQ_DONTWAIT) == -1
           && zmq_errno () == EAGAIN);
    CHECK (zmq_send (push, "one", 3, ZMQ_SNDMORE) == 3);
    CHECK (zmq_send (push, "", 0, ZMQ_SNDMORE) == 0);
    CHECK (zmq_send_const (push, "three!", 6, 0) == 6);
    int more;
    size_t more_size = sizeof more;
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 3 && memcmp (buf, "one", 3) == 0);
    CHECK (zmq_getsockopt (pull, ZMQ_RCVMORE, &more, &more_size) == 0 && more == 1);
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 0);
    /* Truncated to the buffer; the frame's length is returned. */
    CHECK (zmq_recv (pull, buf, 2, 0) == 6 && memcmp (buf, "th", 2) == 0);
    CHECK (zmq_getsockopt (pull, ZMQ_RCVMORE, &more, &more_size) == 0 && more == 0);

    /* zmq_msg_t: init_size filled by the caller, init_data freed once sent
     * and closed, copy and move. */
    zmq_msg_t a, b, c;
    CHECK (zmq_msg_init_size (&a, 5) == 0);
    CHECK (zmq_msg_get (&a, ZMQ_SHARED) == 0); /* its own buffer */
    memcpy (zmq_msg_data (&a), "hello", 5);
    char *owned = malloc (4);
    memcpy (owned, "data", 4);
    CHECK (zmq_msg_init_data (&b, owned, 4, free_buffer, &freed) == 0);
    CHECK (zmq_msg_get (&b, ZMQ_SHARED) == 0); /* not copied yet */
    CHECK (zmq_msg_init (&c) == 0);
    CHECK (zmq_msg_get (&c, ZMQ_SHARED) == 0); /* empty, as libzmq's */
    CHECK (zmq_msg_copy (&c, &b) == 0 && zmq_msg_size (&c) == 4);
    CHECK (zmq_msg_get (&b, ZMQ_SHARED) == 1);
    CHECK (zmq_msg_send (&a, push, ZMQ_SNDMORE) == 5);
    CHECK (zmq_msg_size (&a) == 0);
    CHECK (zmq_msg_send (&b, push, 0) == 4);
    CHECK (zmq_msg_get (&b, ZMQ_SHARED) == 0); /* emptied: a new message */
    CHECK (zmq_msg_close (&a) == 0 && zmq_msg_close (&b) == 0);
    CHECK (zmq_msg_close (&a) == -1 && zmq_errno () == EFAULT);
    zmq_msg_t r;
    CHECK (zmq_msg_init (&r) == 0);
    CHECK (zmq_msg_recv (&r, pull, 0) == 5 && zmq_msg_more (&r) == 1);
    CHECK (memcmp (zmq_msg_data (&r), "hello", 5) == 0);
    CHECK (zmq_msg_recv (&r, pull, 0) == 4 && zmq_msg_more (&r) == 0);
    CHECK (zmq_msg_get (&r, ZMQ_MORE) == 0);
    CHECK (zmq_msg_get (&r, ZMQ_SRCFD) == -1); /* inproc: no descriptor */
    zmq_msg_t moved;
    CHECK (zmq_msg_init (&moved) == 0);
    CHECK (zmq_msg_move (&moved, &r) == 0);
    CHECK (zmq_msg_size (&r) == 0 && zmq_msg_size (&moved) == 4);
    CHECK (memcmp (zmq_msg_data (&moved), "data", 4) == 0);
    CHECK (freed == 0);
    CHECK (zmq_msg_close (&r) == 0 && zmq_msg_close (&moved) == 0);
    CHECK (zmq_msg_close (&c) == 0);
    CHECK (freed == 1);

    /* ZMQ_SHARED and zmq_msg_copy as libzmq's: up to 33 bytes of the
     * message's own, a copy by value (independent, neither shared); above,
     * the frame shared (a write shows in both) and both shared, still so
     * once the copy is closed; a constant message (no free function) is
     * shared from the start, even empty. */
    zmq_msg_t small, small_copy, large, large_copy, constant;
    CHECK (zmq_msg_init_size (&small, 33) == 0 && zmq_msg_init (&small_copy) == 0);
    memset (zmq_msg_data (&small), 'a', 33);
    CHECK (zmq_msg_copy (&small_copy, &small) == 0);
    ((char *) zmq_msg_data (&small))[0] = 'b';
    CHECK (((char *) zmq_msg_data (&small_copy))[0] == 'a');
    CHECK (zmq_msg_get (&small, ZMQ_SHARED) == 0 && zmq_msg_get (&small_copy, ZMQ_SHARED) == 0);
    CHECK (zmq_msg_init_size (&large, 34) == 0 && zmq_msg_init (&large_copy) == 0);
    memset (zmq_msg_data (&large), 'a', 34);
    CHECK (zmq_msg_copy (&large_copy, &large) == 0);
    ((char *) zmq_msg_data (&large))[0] = 'b';
    CHECK (((char *) zmq_msg_data (&large_copy))[0] == 'b');
    CHECK (zmq_msg_get (&large, ZMQ_SHARED) == 1 && zmq_msg_get (&large_copy, ZMQ_SHARED) == 1);
    CHECK (zmq_msg_close (&large_copy) == 0 && zmq_msg_get (&large, ZMQ_SHARED) == 1);
    static char text[] = "constant";
    CHECK (zmq_msg_init_data (&constant, text, 0, NULL, NULL) == 0);
    CHECK (zmq_msg_get (&constant, ZMQ_SHARED) == 1);
    CHECK (zmq_msg_close (&small) == 0 && zmq_msg_close (&small_copy) == 0);
    CHECK (zmq_msg_close (&large) == 0 && zmq_msg_close (&constant) == 0);

    /* A REQ must receive before it sends again. */
    void *rep = zmq_socket (ctx, ZMQ_REP);
    void *req = zmq_socket (ctx, ZMQ_REQ);
    CHECK (zmq_bind (rep, "tcp://127.0.0.1:*") == 0);
    char endpoint[256];
    size_t endpoint_size = sizeof endpoint;
    CHECK (zmq_getsockopt (rep, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_size) == 0);
    CHECK (strncmp (endpoint, "tcp://127.0.0.1:", 16) == 0);
    CHECK (endpoint_size == strlen (endpoint) + 1);
    CHECK (zmq_connect (req, endpoint) == 0);
    CHECK (zmq_send (req, "ping", 4, 0) == 4);
    CHECK (zmq_send (req, "again", 5, 0) == -1 && zmq_errno () == EFSM);
    zmq_pollitem_t items[] = {{rep, 0, ZMQ_POLLIN, 0}, {req, 0, ZMQ_POLLIN, 0}};
    CHECK (zmq_poll (items, 2, 5000) == 1);
    CHECK (items[0].revents == ZMQ_POLLIN && items[1].revents == 0);
    /* ZMQ_SRCFD: the tcp connection's descriptor, whose peer is the REQ. */
    zmq_msg_t ping;
    CHECK (zmq_msg_init (&ping) == 0);
    CHECK (zmq_msg_recv (&ping, rep, 0) == 4 && memcmp (zmq_msg_data (&ping), "ping", 4) == 0);
    int srcfd = zmq_msg_get (&ping, ZMQ_SRCFD);
    CHECK (srcfd >= 0);
    struct sockaddr_in peer;
    socklen_t peer_size = sizeof peer;
    CHECK (getpeername (srcfd, (struct sockaddr *) &peer, &peer_size) == 0);
    CHECK (peer.sin_family == AF_INET && peer.sin_addr.s_addr == htonl (INADDR_LOOPBACK));
    CHECK (zmq_msg_close (&ping) == 0);
    CHECK (zmq_send (rep, "pong", 4, 0) == 4);
    CHECK (zmq_recv (req, buf, sizeof buf, 0) == 4 && memcmp (buf, "pong", 4) == 0);

    /* Options: set and read back, the read-only ones, and bad values. */
    int type, hwm = 7, linger = 0, events;
    size_t int_size = sizeof (int);
    CHECK (zmq_getsockopt (req, ZMQ_TYPE, &type, &int_size) == 0 && type == ZMQ_REQ);
    CHECK (zmq_setsockopt (push, ZMQ_SNDHWM, &hwm, sizeof hwm) == 0);
    hwm = 0;
    CHECK (zmq_getsockopt (push, ZMQ_SNDHWM, &hwm, &int_size) == 0 && hwm == 7);
    CHECK (zmq_getsockopt (push, ZMQ_LINGER, &linger, &int_size) == 0 && linger == -1);
    CHECK (zmq_getsockopt (push, ZMQ_EVENTS, &events, &int_size) == 0
           && events == ZMQ_POLLOUT);
    CHECK (zmq_setsockopt (push, ZMQ_SNDHWM, &hwm, 2) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_setsockopt (push, 12345, &hwm, sizeof hwm) == -1 && zmq_errno () == EINVAL);
    /* Vector I/O: sendiov with SNDMORE makes one message of its buffers
     * and returns the last one's size; recviov stops at the message's end
     * and gives malloc()ed copies; bad arguments are EINVAL or ENOTSOCK. */
    char one[] = "first", two[] = "2nd";
    struct iovec out[3] = {{one, 5}, {two, 3}, {one, 0}};
    CHECK (zmq_sendiov (NULL, out, 3, 0) == -1 && zmq_errno () == ENOTSOCK);
    CHECK (zmq_sendiov (push, out, 0, 0) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_sendiov (push, NULL, 3, 0) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_sendiov (push, out, 3, ZMQ_SNDMORE) == 0);
    CHECK (zmq_sendiov (push, out, 2, 0) == 3); /* two messages of a frame */
    struct iovec in[4];
    size_t count = 0;
    CHECK (zmq_recviov (pull, in, &count, 0) == -1 && zmq_errno () == EINVAL);
    CHECK (zmq_recviov (pull, in, NULL, 0) == -1 && zmq_errno () == EINVAL);
    count = 4;
    CHECK (zmq_recviov (pull, in, &count, 0) == 3 && count == 3);
    CHECK (in[0].iov_len == 5 && memcmp (in[0].iov_base, "first", 5) == 0);
    CHECK (in[1].iov_len == 3 && memcmp (in[1].iov_base, "2nd", 3) == 0);
    CHECK (in[2].iov_len == 0);
    for (int i = 0; i < 3; i++)
        free (in[i].iov_base);
    count = 4;
    CHECK (zmq_recviov (pull, in, &count, 0) == 1 && count == 1);
    CHECK (in[0].iov_len == 5 && memcmp (in[0].iov_base, "first", 5) == 0);
    free (in[0].iov_base);
    count = 1;
    CHECK (zmq_recviov (pull, in, &count, 0) == 1 && in[0].iov_len == 3);
    free (in[0].iov_base);
    count = 4;
    CHECK (zmq_recviov (pull, in, &count, ZMQ_DONTWAIT) == -1
           && zmq_errno () == EAGAIN && count == 0);

    /* A send that fails leaves the zmq_msg_t as it was: sending it again
     * once there is room delivers it. */
    void *lonely = zmq_socket (ctx, ZMQ_PUSH);
    CHECK (lonely != NULL);
    zmq_msg_t kept;
    CHECK (zmq_msg_init_size (&kept, 4) == 0);
    memcpy (zmq_msg_data (&kept), "kept", 4);
    CHECK (zmq_msg_send (&kept, lonely, ZMQ_DONTWAIT) == -1 && zmq_errno () == EAGAIN);
    CHECK (zmq_msg_size (&kept) == 4 && memcmp (zmq_msg_data (&kept), "kept", 4) == 0);
    CHECK (zmq_msg_more (&kept) == 0);
    /* ... ZMQ_SHARED included: a constant message stays shared; ZMQ_MORE
     * says whether the send had ZMQ_SNDMORE, as libzmq sets it first. */
    zmq_msg_t constant_kept;
    static char word[] = "word";
    CHECK (zmq_msg_init_data (&constant_kept, word, 4, NULL, NULL) == 0);
    CHECK (zmq_msg_send (&constant_kept, lonely, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1
           && zmq_errno () == EAGAIN);
    CHECK (zmq_msg_get (&constant_kept, ZMQ_SHARED) == 1);
    CHECK (zmq_msg_more (&constant_kept) == 1);
    CHECK (zmq_msg_close (&constant_kept) == 0);
    void *taker = zmq_socket (ctx, ZMQ_PULL);
    CHECK (taker != NULL);
    CHECK (zmq_bind (taker, "inproc://kept") == 0);
    CHECK (zmq_connect (lonely, "inproc://kept") == 0);
    CHECK (zmq_msg_send (&kept, lonely, 0) == 4 && zmq_msg_size (&kept) == 0);
    CHECK (zmq_msg_close (&kept) == 0);
    CHECK (zmq_recv (taker, buf, sizeof buf, 0) == 4 && memcmp (buf, "kept", 4) == 0);

    /* ... and a send refused on a spent credit (tcp, SNDHWM 1, a PULL
     * that does not read: ZMQ_DONTWAIT sends meet EAGAIN near SNDHWM)
     * leaves a received frame's body, with ZMQ_MORE cleared as libzmq's
     * send clears it before trying. */
    void *pair_in = zmq_socket (ctx, ZMQ_PAIR), *pair_out = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (pair_in && pair_out && zmq_bind (pair_in, "inproc://more") == 0
           && zmq_connect (pair_out, "inproc://more") == 0);
    CHECK (zmq_send (pair_out, "head", 4, ZMQ_SNDMORE) == 4 && zmq_send (pair_out, "t", 1, 0) == 1);
    zmq_msg_t head;
    CHECK (zmq_msg_init (&head) == 0);
    CHECK (zmq_msg_recv (&head, pair_in, 0) == 4 && zmq_msg_more (&head) == 1);
    void *full = zmq_socket (ctx, ZMQ_PULL), *filler = zmq_socket (ctx, ZMQ_PUSH);
    int hwm_one = 1;
    char full_endpoint[64];
    size_t full_len = sizeof full_endpoint;
    CHECK (full && filler && zmq_setsockopt (full, ZMQ_RCVHWM, &hwm_one, sizeof hwm_one) == 0
           && zmq_setsockopt (filler, ZMQ_SNDHWM, &hwm_one, sizeof hwm_one) == 0
           && zmq_bind (full, "tcp://127.0.0.1:*") == 0
           && zmq_getsockopt (full, ZMQ_LAST_ENDPOINT, full_endpoint, &full_len) == 0
           && zmq_connect (filler, full_endpoint) == 0);
    CHECK (zmq_send (filler, "up", 2, 0) == 2 && zmq_recv (full, buf, sizeof buf, 0) == 2);
    int filled = 0;
    while (filled < 100000 && zmq_send (filler, "x", 1, ZMQ_DONTWAIT) == 1)
        filled++;
    CHECK (filled < 100000 && zmq_errno () == EAGAIN);
    CHECK (zmq_msg_send (&head, filler, ZMQ_DONTWAIT) == -1 && zmq_errno () == EAGAIN);
    CHECK (zmq_msg_size (&head) == 4 && memcmp (zmq_msg_data (&head), "head", 4) == 0);
    CHECK (zmq_msg_more (&head) == 0);
    CHECK (zmq_msg_close (&head) == 0);
    CHECK (zmq_recv (pair_in, buf, sizeof buf, 0) == 1);
    int no_linger = 0;
    CHECK (zmq_setsockopt (filler, ZMQ_LINGER, &no_linger, sizeof no_linger) == 0);
    CHECK (zmq_close (filler) == 0 && zmq_close (full) == 0);
    CHECK (zmq_close (pair_in) == 0 && zmq_close (pair_out) == 0);

    /* One zmq_msg_t received into again and again: each message's
     * properties are its own sender's (a message from the same peer keeps
     * them, one from another replaces them). Two DEALERs named "first" and
     * "second" into one DEALER over tcp (a DEALER tells its routing id in
     * its greeting, a PUSH does not); each body says who sent it. */
    void *gather = zmq_socket (ctx, ZMQ_DEALER);
    CHECK (gather != NULL);
    CHECK (zmq_bind (gather, "tcp://127.0.0.1:0") == 0);
    char gather_at[256];
    size_t gather_at_size = sizeof gather_at;
    CHECK (zmq_getsockopt (gather, ZMQ_LAST_ENDPOINT, gather_at, &gather_at_size) == 0);
    const char *names[] = {"first", "second"};
    void *senders[2];
    for (int i = 0; i < 2; i++) {
        senders[i] = zmq_socket (ctx, ZMQ_DEALER);
        CHECK (senders[i] != NULL);
        CHECK (zmq_setsockopt (senders[i], ZMQ_ROUTING_ID, names[i], strlen (names[i])) == 0);
        CHECK (zmq_connect (senders[i], gather_at) == 0);
    }
    zmq_msg_t from;
    CHECK (zmq_msg_init (&from) == 0);
    /* Rounds 0 and 1: one message from each; round 2: two from "second"
     * (the properties kept); round 3: one from "first" again. */
    int from_first[] = {1, 1, 0, 1};
    int from_second[] = {1, 1, 2, 0};
    for (int round = 0; round < 4; round++) {
        int counts[] = {from_first[round], from_second[round]};
        for (int i = 0; i < 2; i++) {
            /* A DEALER keeps its message until its connection is up. */
            for (int k = 0; k < counts[i]; k++) {
                CHECK (zmq_send (senders[i], names[i], strlen (names[i]), 0)
                       == (int) strlen (names[i]));
            }
        }
        for (int i = 0; i < counts[0] + counts[1]; i++) {
            int n = zmq_msg_recv (&from, gather, 0);
            CHECK (n == 5 || n == 6);
            const char *id = zmq_msg_gets (&from, "Routing-Id");
            CHECK (id != NULL && strlen (id) == (size_t) n);
            CHECK (memcmp (zmq_msg_data (&from), id, (size_t) n) == 0);
        }
    }
    CHECK (zmq_msg_close (&from) == 0);
    for (int i = 0; i < 2; i++) {
        CHECK (zmq_close (senders[i]) == 0);
    }
    CHECK (zmq_close (gather) == 0);

    linger = 0;
    CHECK (zmq_setsockopt (lonely, ZMQ_LINGER, &linger, sizeof linger) == 0);
    CHECK (zmq_close (lonely) == 0);
    CHECK (zmq_setsockopt (taker, ZMQ_LINGER, &linger, sizeof linger) == 0);
    CHECK (zmq_close (taker) == 0);
    void *sockets[] = {pull, push, rep, req};
    for (int i = 0; i < 4; i++) {
        CHECK (zmq_setsockopt (sockets[i], ZMQ_LINGER, &linger, sizeof linger) == 0);
        CHECK (zmq_close (sockets[i]) == 0);
    }
    CHECK (zmq_ctx_term (ctx) == 0);
    printf ("ok\n");
    return 0;
}
