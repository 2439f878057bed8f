#ifndef AMTSWEG_CEPOLL_H
#define AMTSWEG_CEPOLL_H
// Placeholder; the HTTP server issue fills this in.
#endif
