#ifndef AMTSWEG_CLIBPQ_SHIM_H
#define AMTSWEG_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
