/* A REQ that asks the REP at argv[1] (a libzmq peer in the test) twice,
 * with a two-frame request, and checks each echoed reply. */
#include "check.h"

int main (int argc, char **argv)
{
    CHECK (argc == 2);
    print_library ();
    void *ctx = zmq_ctx_new ();
    void *req = zmq_socket (ctx, ZMQ_REQ);
    int timeout = 10000;
    CHECK (zmq_setsockopt (req, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
    CHECK (zmq_connect (req, argv[1]) == 0);
    for (int i = 0; i < 2; i++) {
        CHECK (zmq_send (req, "hello", 5, ZMQ_SNDMORE) == 5);
        CHECK (zmq_send (req, &i, sizeof i, 0) == (int) sizeof i);
        zmq_msg_t part;
        CHECK (zmq_msg_init (&part) == 0);
        CHECK (zmq_msg_recv (&part, req, 0) == 5 && zmq_msg_more (&part));
        CHECK (memcmp (zmq_msg_data (&part), "hello", 5) == 0);
        CHECK (zmq_msg_gets (&part, "Socket-Type") != NULL);
        CHECK (strcmp (zmq_msg_gets (&part, "Socket-Type"), "REP") == 0);
        CHECK (zmq_msg_recv (&part, req, 0) == (int) sizeof i);
        CHECK (memcmp (zmq_msg_data (&part), &i, sizeof i) == 0);
        CHECK (!zmq_msg_more (&part));
        CHECK (zmq_msg_close (&part) == 0);
    }
    CHECK (zmq_close (req) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    printf ("ok\n");
    return 0;
}
