/* zmq.h for Monocoque's libzmq.so.5.
 *
 * Declares the part of libzmq 4.3's stable C API that Monocoque implements
 * (see capi/README.md for what is and is not there yet). The numbers, the
 * zmq_msg_t and zmq_pollitem_t layouts and the signatures are libzmq's, so a
 * program written against libzmq compiles against this header and runs on
 * either library. SPDX-License-Identifier: MPL-2.0
 */
#ifndef MONOCOQUE_ZMQ_H_INCLUDED
#define MONOCOQUE_ZMQ_H_INCLUDED

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The libzmq version whose ABI is offered. */
#define ZMQ_VERSION_MAJOR 4
#define ZMQ_VERSION_MINOR 3
#define ZMQ_VERSION_PATCH 4
#define ZMQ_MAKE_VERSION(major, minor, patch) \
    ((major) *10000 + (minor) *100 + (patch))
#define ZMQ_VERSION \
    ZMQ_MAKE_VERSION (ZMQ_VERSION_MAJOR, ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH)

void zmq_version (int *major, int *minor, int *patch);

/* Errors: the system's errno values, and libzmq's own above this base. */
#define ZMQ_HAUSNUMERO 156384712
#ifndef ENOTSUP
#define ENOTSUP (ZMQ_HAUSNUMERO + 1)
#endif
#ifndef EPROTONOSUPPORT
#define EPROTONOSUPPORT (ZMQ_HAUSNUMERO + 2)
#endif
#ifndef ENOBUFS
#define ENOBUFS (ZMQ_HAUSNUMERO + 3)
#endif
#ifndef ENETDOWN
#define ENETDOWN (ZMQ_HAUSNUMERO + 4)
#endif
#ifndef EADDRINUSE
#define EADDRINUSE (ZMQ_HAUSNUMERO + 5)
#endif
#ifndef EADDRNOTAVAIL
#define EADDRNOTAVAIL (ZMQ_HAUSNUMERO + 6)
#endif
#ifndef ECONNREFUSED
#define ECONNREFUSED (ZMQ_HAUSNUMERO + 7)
#endif
#ifndef EINPROGRESS
#define EINPROGRESS (ZMQ_HAUSNUMERO + 8)
#endif
#ifndef ENOTSOCK
#define ENOTSOCK (ZMQ_HAUSNUMERO + 9)
#endif
#ifndef EMSGSIZE
#define EMSGSIZE (ZMQ_HAUSNUMERO + 10)
#endif
#ifndef EAFNOSUPPORT
#define EAFNOSUPPORT (ZMQ_HAUSNUMERO + 11)
#endif
#ifndef ENETUNREACH
#define ENETUNREACH (ZMQ_HAUSNUMERO + 12)
#endif
#ifndef ECONNABORTED
#define ECONNABORTED (ZMQ_HAUSNUMERO + 13)
#endif
#ifndef ECONNRESET
#define ECONNRESET (ZMQ_HAUSNUMERO + 14)
#endif
#ifndef ENOTCONN
#define ENOTCONN (ZMQ_HAUSNUMERO + 15)
#endif
#ifndef ETIMEDOUT
#define ETIMEDOUT (ZMQ_HAUSNUMERO + 16)
#endif
#ifndef EHOSTUNREACH
#define EHOSTUNREACH (ZMQ_HAUSNUMERO + 17)
#endif
#ifndef ENETRESET
#define ENETRESET (ZMQ_HAUSNUMERO + 18)
#endif
#define EFSM (ZMQ_HAUSNUMERO + 51)
#define ENOCOMPATPROTO (ZMQ_HAUSNUMERO + 52)
#define ETERM (ZMQ_HAUSNUMERO + 53)
#define EMTHREAD (ZMQ_HAUSNUMERO + 54)

int zmq_errno (void);
const char *zmq_strerror (int errnum);

/* Contexts. */
#define ZMQ_IO_THREADS 1
#define ZMQ_MAX_SOCKETS 2
#define ZMQ_SOCKET_LIMIT 3
#define ZMQ_MAX_MSGSZ 5
#define ZMQ_MSG_T_SIZE 6
#define ZMQ_IO_THREADS_DFLT 1
#define ZMQ_MAX_SOCKETS_DFLT 1023
/* The context thread's scheduling, CPUs and name: applied to its thread
 * when set (libzmq applies them when its I/O threads start). */
#define ZMQ_THREAD_PRIORITY 3
#define ZMQ_THREAD_SCHED_POLICY 4
#define ZMQ_THREAD_AFFINITY_CPU_ADD 7
#define ZMQ_THREAD_AFFINITY_CPU_REMOVE 8
#define ZMQ_THREAD_NAME_PREFIX 9
#define ZMQ_THREAD_PRIORITY_DFLT -1
#define ZMQ_THREAD_SCHED_POLICY_DFLT -1

void *zmq_ctx_new (void);
int zmq_ctx_term (void *context);
int zmq_ctx_shutdown (void *context);
int zmq_ctx_set (void *context, int option, int optval);
int zmq_ctx_get (void *context, int option);
/* Deprecated spellings. */
void *zmq_init (int io_threads);
int zmq_term (void *context);
int zmq_ctx_destroy (void *context);

/* Messages: 64 bytes the caller owns, aligned as a pointer. */
typedef struct zmq_msg_t
{
    unsigned char _[64] __attribute__ ((aligned (sizeof (void *))));
} zmq_msg_t;

typedef void (zmq_free_fn) (void *data, void *hint);

int zmq_msg_init (zmq_msg_t *msg);
int zmq_msg_init_size (zmq_msg_t *msg, size_t size);
int zmq_msg_init_data (
  zmq_msg_t *msg, void *data, size_t size, zmq_free_fn *ffn, void *hint);
int zmq_msg_send (zmq_msg_t *msg, void *s, int flags);
int zmq_msg_recv (zmq_msg_t *msg, void *s, int flags);
int zmq_msg_close (zmq_msg_t *msg);
int zmq_msg_move (zmq_msg_t *dest, zmq_msg_t *src);
int zmq_msg_copy (zmq_msg_t *dest, zmq_msg_t *src);
void *zmq_msg_data (zmq_msg_t *msg);
size_t zmq_msg_size (const zmq_msg_t *msg);
int zmq_msg_more (const zmq_msg_t *msg);
int zmq_msg_get (const zmq_msg_t *msg, int property);
int zmq_msg_set (zmq_msg_t *msg, int property, int optval);
const char *zmq_msg_gets (const zmq_msg_t *msg, const char *property);
/* Deprecated spellings. */
int zmq_sendmsg (void *s, zmq_msg_t *msg, int flags);
int zmq_recvmsg (void *s, zmq_msg_t *msg, int flags);
/* A frame per iovec: sendiov applies flags to all but the last buffer and
 * returns the last one's size; recviov fills up to *count iovecs with
 * malloc()ed copies of one message's frames (free them with free()). */
struct iovec;
int zmq_sendiov (void *s, struct iovec *iov, size_t count, int flags);
int zmq_recviov (void *s, struct iovec *iov, size_t *count, int flags);

/* Socket types. */
#define ZMQ_PAIR 0
#define ZMQ_PUB 1
#define ZMQ_SUB 2
#define ZMQ_REQ 3
#define ZMQ_REP 4
#define ZMQ_DEALER 5
#define ZMQ_ROUTER 6
#define ZMQ_PULL 7
#define ZMQ_PUSH 8
#define ZMQ_XPUB 9
#define ZMQ_XSUB 10
#define ZMQ_STREAM 11
#define ZMQ_XREQ ZMQ_DEALER
#define ZMQ_XREP ZMQ_ROUTER

/* Socket options (those zmq_setsockopt or zmq_getsockopt take here). */
#define ZMQ_ROUTING_ID 5
#define ZMQ_IDENTITY ZMQ_ROUTING_ID
#define ZMQ_SUBSCRIBE 6
#define ZMQ_UNSUBSCRIBE 7
#define ZMQ_SNDBUF 11
#define ZMQ_RCVBUF 12
#define ZMQ_RCVMORE 13
#define ZMQ_FD 14
#define ZMQ_EVENTS 15
#define ZMQ_TYPE 16
#define ZMQ_LINGER 17
#define ZMQ_RECONNECT_IVL 18
#define ZMQ_BACKLOG 19
#define ZMQ_RECONNECT_IVL_MAX 21
#define ZMQ_MAXMSGSIZE 22
#define ZMQ_SNDHWM 23
#define ZMQ_RCVHWM 24
#define ZMQ_RCVTIMEO 27
#define ZMQ_SNDTIMEO 28
#define ZMQ_LAST_ENDPOINT 32
#define ZMQ_ROUTER_MANDATORY 33
#define ZMQ_TCP_KEEPALIVE 34
#define ZMQ_TCP_KEEPALIVE_CNT 35
#define ZMQ_TCP_KEEPALIVE_IDLE 36
#define ZMQ_TCP_KEEPALIVE_INTVL 37
#define ZMQ_IMMEDIATE 39
#define ZMQ_XPUB_VERBOSE 40
#define ZMQ_IPV6 42
#define ZMQ_PROBE_ROUTER 51
#define ZMQ_REQ_CORRELATE 52
#define ZMQ_REQ_RELAXED 53
#define ZMQ_CONFLATE 54
#define ZMQ_ZAP_DOMAIN 55
#define ZMQ_ROUTER_HANDOVER 56
#define ZMQ_TOS 57
#define ZMQ_CONNECT_ROUTING_ID 61
#define ZMQ_HANDSHAKE_IVL 66
#define ZMQ_XPUB_NODROP 69
#define ZMQ_BLOCKY 70
#define ZMQ_XPUB_MANUAL 71
#define ZMQ_XPUB_WELCOME_MSG 72
#define ZMQ_STREAM_NOTIFY 73
#define ZMQ_INVERT_MATCHING 74
#define ZMQ_HEARTBEAT_IVL 75
#define ZMQ_HEARTBEAT_TTL 76
#define ZMQ_HEARTBEAT_TIMEOUT 77
#define ZMQ_XPUB_VERBOSER 78
#define ZMQ_CONNECT_TIMEOUT 79
#define ZMQ_TCP_MAXRT 80
#define ZMQ_THREAD_SAFE 81
#define ZMQ_BINDTODEVICE 92
/* ZMQ_AFFINITY: bit i lets tcp and ipc endpoints use I/O thread i; a
   context here has one (bit 0), so a mask without it is EMTHREAD at
   zmq_bind and zmq_connect, as in libzmq. */
#define ZMQ_AFFINITY 4
#define ZMQ_IPV4ONLY 31
/* Read-only here, at libzmq's defaults: setting one is EINVAL (the
   multicast transports are not offered). */
#define ZMQ_RATE 8
#define ZMQ_RECOVERY_IVL 9
#define ZMQ_MULTICAST_HOPS 25
#define ZMQ_MULTICAST_MAXTPDU 84
/* A listening tcp or ipc socket of the application's that the next such
   zmq_bind takes over (and closes with the endpoint); -1: none. */
#define ZMQ_USE_FD 89
/* Deprecated in libzmq, honoured here: each value adds a network
   ("a.b.c.d/n") tcp peers are taken from; NULL or "" clears them. */
#define ZMQ_TCP_ACCEPT_FILTER 38
/* tcp connects through a SOCKS5 proxy, "[source;]host:port"; NULL clears. */
#define ZMQ_SOCKS_PROXY 68
/* Deprecated in libzmq, honoured here: each value (a pid_t, uid_t or
   gid_t) adds a process, user or group ipc peers are taken from (a group
   also takes the users its member list names); NULL clears that list. */
#define ZMQ_IPC_FILTER_PID 58
#define ZMQ_IPC_FILTER_UID 59
#define ZMQ_IPC_FILTER_GID 60
#define ZMQ_MECHANISM 43
#define ZMQ_PLAIN_SERVER 44
#define ZMQ_PLAIN_USERNAME 45
#define ZMQ_PLAIN_PASSWORD 46
#define ZMQ_CURVE_SERVER 47
#define ZMQ_CURVE_PUBLICKEY 48
#define ZMQ_CURVE_SECRETKEY 49
#define ZMQ_CURVE_SERVERKEY 50

/* Security mechanisms (ZMQ_MECHANISM). */
#define ZMQ_NULL 0
#define ZMQ_PLAIN 1
#define ZMQ_CURVE 2

/* Message properties. */
#define ZMQ_MORE 1
/* Deprecated in libzmq: the tcp or ipc connection's descriptor, -1 for
 * others; never close it. */
#define ZMQ_SRCFD 2
#define ZMQ_SHARED 3

/* Send and receive flags. */
#define ZMQ_DONTWAIT 1
#define ZMQ_SNDMORE 2

void *zmq_socket (void *context, int type);
int zmq_close (void *s);
int zmq_setsockopt (void *s, int option, const void *optval, size_t optvallen);
int zmq_getsockopt (void *s, int option, void *optval, size_t *optvallen);
int zmq_bind (void *s, const char *addr);
int zmq_connect (void *s, const char *addr);
int zmq_unbind (void *s, const char *addr);
int zmq_disconnect (void *s, const char *addr);
int zmq_send (void *s, const void *buf, size_t len, int flags);
int zmq_send_const (void *s, const void *buf, size_t len, int flags);
int zmq_recv (void *s, void *buf, size_t len, int flags);

/* Polling. */
#define ZMQ_POLLIN 1
#define ZMQ_POLLOUT 2
#define ZMQ_POLLERR 4
#define ZMQ_POLLITEMS_DFLT 16

typedef struct zmq_pollitem_t
{
    void *socket;
    int fd;
    short events;
    short revents;
} zmq_pollitem_t;

int zmq_poll (zmq_pollitem_t *items, int nitems, long timeout);

/* Capabilities. */
int zmq_has (const char *capability);

/* Monitoring: events on an inproc PAIR, two frames each (6 bytes: the
 * event, 16 bits, and its value, 32 bits, little-endian; the endpoint). */
#define ZMQ_EVENT_CONNECTED 0x0001
#define ZMQ_EVENT_CONNECT_DELAYED 0x0002
#define ZMQ_EVENT_CONNECT_RETRIED 0x0004
#define ZMQ_EVENT_LISTENING 0x0008
#define ZMQ_EVENT_BIND_FAILED 0x0010
#define ZMQ_EVENT_ACCEPTED 0x0020
#define ZMQ_EVENT_ACCEPT_FAILED 0x0040
#define ZMQ_EVENT_CLOSED 0x0080
#define ZMQ_EVENT_CLOSE_FAILED 0x0100
#define ZMQ_EVENT_DISCONNECTED 0x0200
#define ZMQ_EVENT_MONITOR_STOPPED 0x0400
#define ZMQ_EVENT_ALL 0xFFFF
#define ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL 0x0800
#define ZMQ_EVENT_HANDSHAKE_SUCCEEDED 0x1000
#define ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL 0x2000
#define ZMQ_EVENT_HANDSHAKE_FAILED_AUTH 0x4000

int zmq_socket_monitor (void *s, const char *addr, int events);

/* Proxies. */
int zmq_proxy (void *frontend, void *backend, void *capture);
int zmq_proxy_steerable (void *frontend,
                         void *backend,
                         void *capture,
                         void *control);

/* Z85 and CURVE keys. */
char *zmq_z85_encode (char *dest, const uint8_t *data, size_t size);
uint8_t *zmq_z85_decode (uint8_t *dest, const char *string);
int zmq_curve_keypair (char *z85_public_key, char *z85_secret_key);
int zmq_curve_public (char *z85_public_key, const char *z85_secret_key);

/* Atomic counters. */
void *zmq_atomic_counter_new (void);
void zmq_atomic_counter_set (void *counter, int value);
int zmq_atomic_counter_inc (void *counter);
int zmq_atomic_counter_dec (void *counter);
int zmq_atomic_counter_value (void *counter);
void zmq_atomic_counter_destroy (void **counter_p);

/* Threads. */
typedef void (zmq_thread_fn) (void *);
void *zmq_threadstart (zmq_thread_fn *func, void *arg);
void zmq_threadclose (void *thread);

/* Timing. */
void zmq_sleep (int seconds);
void *zmq_stopwatch_start (void);
unsigned long zmq_stopwatch_intermediate (void *watch);
unsigned long zmq_stopwatch_stop (void *watch);

#ifdef __cplusplus
}
#endif

#endif
