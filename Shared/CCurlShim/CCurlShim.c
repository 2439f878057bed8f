#include "CCurlShim.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct amtsweg_smtp {
    CURL *easy;
    // Upload state for the read callback.
    const char *data;
    size_t length;
    size_t offset;
    // Asked before data is handed over; nonzero aborts (see amtsweg_smtp_stop_t).
    amtsweg_smtp_stop_t stop;
    void *stop_context;
    int stopped;
    // The server's last reply, collected from the debug callback (CURLINFO_HEADER_IN).
    char reply[512];
    size_t reply_length;
    int reply_complete;
    // The first 4xx/5xx reply of the transfer: curl's QUIT afterwards must not hide it.
    char error_reply[512];
    char error[CURL_ERROR_SIZE];
};

int amtsweg_curl_global_init(void) { return (int)curl_global_init(CURL_GLOBAL_DEFAULT); }

const char *amtsweg_curl_strerror(int code) { return curl_easy_strerror((CURLcode)code); }

// libcurl ends DATA (CRLF.CRLF) only after this callback has returned 0, so asking `stop` on
// every call, that one included, is the last moment the message can still be withheld.
static size_t read_callback(char *buffer, size_t size, size_t count, void *userdata) {
    amtsweg_smtp_t *smtp = userdata;
    if (smtp->stop && smtp->stop(smtp->stop_context)) {
        smtp->stopped = 1;
        return CURL_READFUNC_ABORT;
    }
    size_t room = size * count;
    size_t left = smtp->length - smtp->offset;
    size_t n = left < room ? left : room;
    memcpy(buffer, smtp->data + smtp->offset, n);
    smtp->offset += n;
    return n;
}

// Keeps only what the server said (CURLINFO_HEADER_IN); message data (CURLINFO_DATA_OUT) and
// everything else is dropped, so the text can go into logs and dead letters.
static int debug_callback(CURL *easy, curl_infotype type, char *data, size_t size, void *userdata) {
    (void)easy;
    amtsweg_smtp_t *smtp = userdata;
    if (type != CURLINFO_HEADER_IN) return 0;
    if (smtp->reply_complete) {
        smtp->reply_length = 0;
        smtp->reply_complete = 0;
    }
    for (size_t i = 0; i < size && smtp->reply_length + 1 < sizeof smtp->reply; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '\r') continue;
        smtp->reply[smtp->reply_length++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    smtp->reply[smtp->reply_length] = 0;
    // A reply ends with a line "NNN text" (no hyphen after the code).
    if (size >= 4 && data[3] == ' ') {
        smtp->reply_complete = 1;
        if ((smtp->reply[0] == '4' || smtp->reply[0] == '5') && smtp->error_reply[0] == 0)
            memcpy(smtp->error_reply, smtp->reply, sizeof smtp->error_reply);
    }
    return 0;
}

amtsweg_smtp_t *amtsweg_smtp_new(void) {
    amtsweg_smtp_t *smtp = calloc(1, sizeof *smtp);
    if (!smtp) return NULL;
    smtp->easy = curl_easy_init();
    if (!smtp->easy) {
        free(smtp);
        return NULL;
    }
    return smtp;
}

void amtsweg_smtp_free(amtsweg_smtp_t *smtp) {
    if (!smtp) return;
    curl_easy_cleanup(smtp->easy);
    free(smtp);
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        CURLcode code_ = (call);                                                                   \
        if (code_ != CURLE_OK) return (int)code_;                                                  \
    } while (0)

int amtsweg_smtp_configure(amtsweg_smtp_t *smtp, const char *url, const char *username,
                           const char *password, const char *ca_file, int require_tls,
                           long connect_timeout_ms, long timeout_ms) {
    CURL *easy = smtp->easy;
    TRY(curl_easy_setopt(easy, CURLOPT_URL, url));
    TRY(curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps"));
    TRY(curl_easy_setopt(easy, CURLOPT_USE_SSL, (long)(require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE)));
    TRY(curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L));
    TRY(curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L));
    if (ca_file) TRY(curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file));
    if (username) TRY(curl_easy_setopt(easy, CURLOPT_USERNAME, username));
    if (password) TRY(curl_easy_setopt(easy, CURLOPT_PASSWORD, password));
    TRY(curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms));
    TRY(curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms));
    TRY(curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L));
    TRY(curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L));
    TRY(curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L));
    TRY(curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_callback));
    TRY(curl_easy_setopt(easy, CURLOPT_READDATA, smtp));
    TRY(curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, smtp->error));
    // Verbose only so that the debug callback sees the server's replies; it prints nothing.
    TRY(curl_easy_setopt(easy, CURLOPT_DEBUGFUNCTION, debug_callback));
    TRY(curl_easy_setopt(easy, CURLOPT_DEBUGDATA, smtp));
    TRY(curl_easy_setopt(easy, CURLOPT_VERBOSE, 1L));
    return CURLE_OK;
}

int amtsweg_smtp_send(amtsweg_smtp_t *smtp, const char *mail_from, const char *const *rcpts,
                      size_t rcpt_count, const char *data, size_t length,
                      amtsweg_smtp_stop_t stop, void *stop_context, amtsweg_smtp_result_t *result) {
    memset(result, 0, sizeof *result);
    smtp->stop = stop;
    smtp->stop_context = stop_context;
    smtp->stopped = 0;
    smtp->error[0] = 0;
    smtp->reply[0] = 0;
    smtp->reply_length = 0;
    smtp->reply_complete = 0;
    smtp->error_reply[0] = 0;
    smtp->data = data;
    smtp->length = length;
    smtp->offset = 0;

    CURLcode code = CURLE_OK;
    struct curl_slist *list = NULL;
    char from[512];
    snprintf(from, sizeof from, "<%s>", mail_from);
    for (size_t i = 0; i < rcpt_count; i++) {
        char rcpt[512];
        snprintf(rcpt, sizeof rcpt, "<%s>", rcpts[i]);
        struct curl_slist *next = curl_slist_append(list, rcpt);
        if (!next) {
            code = CURLE_OUT_OF_MEMORY;
            goto done;
        }
        list = next;
    }
    if ((code = curl_easy_setopt(smtp->easy, CURLOPT_MAIL_FROM, from)) != CURLE_OK) goto done;
    if ((code = curl_easy_setopt(smtp->easy, CURLOPT_MAIL_RCPT, list)) != CURLE_OK) goto done;
    if ((code = curl_easy_setopt(smtp->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)length)) != CURLE_OK) goto done;
    code = curl_easy_perform(smtp->easy);
    curl_easy_getinfo(smtp->easy, CURLINFO_RESPONSE_CODE, &result->response_code);
    curl_easy_getinfo(smtp->easy, CURLINFO_NUM_CONNECTS, &result->connects_opened);

done:
    curl_easy_setopt(smtp->easy, CURLOPT_MAIL_RCPT, NULL);
    curl_slist_free_all(list);
    smtp->data = NULL;
    smtp->length = 0;
    smtp->stop = NULL;
    smtp->stop_context = NULL;
    result->stopped = smtp->stopped;
    result->curl_code = (int)code;
    snprintf(result->error, sizeof result->error, "%s", smtp->error);
    snprintf(result->reply, sizeof result->reply, "%s", smtp->error_reply[0] ? smtp->error_reply : smtp->reply);
    return (int)code;
}
