#ifndef AMTSWEG_CLIBCURL_SHIM_H
#define AMTSWEG_CLIBCURL_SHIM_H
#include <curl/curl.h>
#endif
