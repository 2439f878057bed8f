#ifndef AMTSWEG_CCURLHTTP_H
#define AMTSWEG_CCURLHTTP_H

// Typed wrappers over libcurl's HTTP use (`curl_easy_setopt`/`curl_easy_getinfo` are variadic
// and do not import into Swift). One handle keeps its connection open between requests
// (keep-alive). Nothing here is thread-safe: one handle belongs to one thread at a time.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One libcurl easy handle plus the response buffer its write callback fills.
typedef struct amtsweg_http amtsweg_http_t;

/// Asked once the connection is ready, right before the request is sent: nonzero aborts it
/// unsent (CURLOPT_PREREQFUNCTION).
typedef int (*amtsweg_http_stop_t)(void *context);

/// What one request did.
typedef struct {
    /// The `CURLcode` (0 = a response was received, whatever its status).
    int curl_code;
    /// HTTP status of the response (0 when none).
    long status;
    /// New connections libcurl opened for this request (0 when an open one was reused).
    long connects_opened;
    /// `Retry-After` in seconds (delay-seconds or HTTP-date), -1 when absent.
    long long retry_after_seconds;
    /// 1 when the response body was cut at the handle's limit.
    int body_truncated;
    /// libcurl's error buffer.
    char error[256];
    /// 1 when `stop` answered nonzero and the request was not sent.
    int stopped;
} amtsweg_http_result_t;

/// `curl_global_init(CURL_GLOBAL_DEFAULT)`; call once before any thread makes a handle.
int amtsweg_http_global_init(void);

/// `curl_easy_strerror`.
const char *amtsweg_http_strerror(int code);

/// A new handle keeping at most `max_body_bytes` of each response, or NULL.
amtsweg_http_t *amtsweg_http_new(size_t max_body_bytes);

/// Closes the handle and its connection.
void amtsweg_http_free(amtsweg_http_t *http);

/// Settings that stay the same for every request. Strings are copied by libcurl; NULL = unset.
/// `ca_file`: CA bundle to verify servers with (else the system's). `cert_file`/`key_file`:
/// client certificate and key (PEM) for mutual TLS. Peer and host are always verified.
/// Returns a `CURLcode`.
int amtsweg_http_configure(amtsweg_http_t *http, const char *ca_file, const char *cert_file,
                           const char *key_file, long connect_timeout_ms, long timeout_ms);

/// One request. `method` is "GET", "POST", …; `headers` are complete "Name: value" lines;
/// `body` may be NULL (no body). `stop` (may be NULL) is called with `stop_context`, see
/// `amtsweg_http_stop_t`. Returns `result->curl_code`.
int amtsweg_http_perform(amtsweg_http_t *http, const char *method, const char *url,
                         const char *const *headers, size_t header_count,
                         const char *body, size_t body_length,
                         amtsweg_http_stop_t stop, void *stop_context, amtsweg_http_result_t *result);

/// The body of the last response (valid until the next perform or free).
const unsigned char *amtsweg_http_body(const amtsweg_http_t *http, size_t *length);

#ifdef __cplusplus
}
#endif
#endif
