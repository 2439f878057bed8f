#ifndef AMTSWEG_CCURLSHIM_H
#define AMTSWEG_CCURLSHIM_H

// Typed wrappers over libcurl's SMTP use. `curl_easy_setopt` and `curl_easy_getinfo` are
// variadic and do not import into Swift; these functions take typed arguments instead and keep
// libcurl's own types out of Swift (the handle is opaque). Nothing here is thread-safe: one
// handle belongs to one thread at a time.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One libcurl easy handle plus the buffers its callbacks write to.
typedef struct amtsweg_smtp amtsweg_smtp_t;

/// Asked before each piece of message data is handed to libcurl, the last time right before the
/// end of DATA: nonzero aborts the transfer, so the server never accepts the message.
typedef int (*amtsweg_smtp_stop_t)(void *context);

/// What one send did. Strings are NUL-terminated and never contain message content.
typedef struct {
    /// The `CURLcode` (0 = sent).
    int curl_code;
    /// The last SMTP reply code the server sent (0 when none, e.g. connection refused).
    long response_code;
    /// New connections libcurl opened for this transfer (0 when an open one was reused).
    long connects_opened;
    /// libcurl's error buffer.
    char error[256];
    /// The server's first 4xx/5xx reply of this send, else its last reply; all its lines,
    /// control characters replaced by spaces.
    char reply[512];
    /// 1 when `stop` answered nonzero and the transfer was aborted before the end of DATA.
    int stopped;
} amtsweg_smtp_result_t;

/// `curl_global_init(CURL_GLOBAL_DEFAULT)`; call once before any thread makes a handle.
int amtsweg_curl_global_init(void);

/// `curl_easy_strerror`.
const char *amtsweg_curl_strerror(int code);

/// A new handle, or NULL when libcurl cannot make one.
amtsweg_smtp_t *amtsweg_smtp_new(void);

/// Closes the handle and its connection.
void amtsweg_smtp_free(amtsweg_smtp_t *smtp);

/// Connection settings that stay the same for every send. Strings are copied by libcurl.
/// `require_tls`: 1 = STARTTLS required on smtp:// (CURLUSESSL_ALL), 0 = no TLS on smtp://.
/// `ca_file`, `username`, `password` may be NULL. Returns a `CURLcode`.
int amtsweg_smtp_configure(amtsweg_smtp_t *smtp, const char *url, const char *username,
                           const char *password, const char *ca_file, int require_tls,
                           long connect_timeout_ms, long timeout_ms);

/// Sends one message: envelope sender `mail_from` (bare address), `rcpt_count` recipients
/// (bare addresses), and `data`/`length` as the message (CRLF lines; libcurl dot-stuffs).
/// `stop` (may be NULL) is called with `stop_context` from the read callback, see
/// `amtsweg_smtp_stop_t`. Returns `result->curl_code`.
int amtsweg_smtp_send(amtsweg_smtp_t *smtp, const char *mail_from, const char *const *rcpts,
                      size_t rcpt_count, const char *data, size_t length,
                      amtsweg_smtp_stop_t stop, void *stop_context, amtsweg_smtp_result_t *result);

#ifdef __cplusplus
}
#endif
#endif
