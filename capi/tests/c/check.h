/* A failed check prints where and what, with errno's text, and exits 1. */
#ifndef CHECK_H
#define CHECK_H
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf (stderr, "%s:%d: check failed: %s (errno %d: %s)\n",     \
                     __FILE__, __LINE__, #cond, zmq_errno (),                \
                     zmq_strerror (zmq_errno ()));                           \
            exit (1);                                                        \
        }                                                                    \
    } while (0)

/* Says which library answers for libzmq, so the test can tell it is ours. */
static void print_library (void)
{
    Dl_info info;
    CHECK (dladdr ((void *) zmq_version, &info) != 0);
    printf ("library %s\n", info.dli_fname);
}
#endif
