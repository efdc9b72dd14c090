#ifndef WEBHOOKD_CLIBPQ_SHIM_H
#define WEBHOOKD_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
