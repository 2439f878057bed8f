#include "CCurlHTTP.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct amtsweg_http {
    CURL *easy;
    unsigned char *body;
    size_t length;
    size_t capacity;
    size_t max_body;
    int truncated;
    // Asked right before a request is sent; nonzero aborts (see amtsweg_http_stop_t).
    amtsweg_http_stop_t stop;
    void *stop_context;
    int stopped;
    char error[CURL_ERROR_SIZE];
};

int amtsweg_http_global_init(void) { return (int)curl_global_init(CURL_GLOBAL_DEFAULT); }

const char *amtsweg_http_strerror(int code) { return curl_easy_strerror((CURLcode)code); }

static size_t write_callback(char *data, size_t size, size_t count, void *userdata) {
    amtsweg_http_t *http = userdata;
    size_t n = size * count;
    size_t keep = n;
    if (http->length + keep > http->max_body) {
        keep = http->max_body > http->length ? http->max_body - http->length : 0;
        http->truncated = 1;
    }
    if (keep > 0) {
        if (http->length + keep > http->capacity) {
            size_t capacity = http->capacity ? http->capacity : 4096;
            while (capacity < http->length + keep) capacity *= 2;
            unsigned char *grown = realloc(http->body, capacity);
            if (!grown) return 0;  // CURLE_WRITE_ERROR
            http->body = grown;
            http->capacity = capacity;
        }
        memcpy(http->body + http->length, data, keep);
        http->length += keep;
    }
    return n;
}

static int prereq_callback(void *userdata, char *primary_ip, char *local_ip, int primary_port, int local_port) {
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    amtsweg_http_t *http = userdata;
    if (http->stop && http->stop(http->stop_context)) {
        http->stopped = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

amtsweg_http_t *amtsweg_http_new(size_t max_body_bytes) {
    amtsweg_http_t *http = calloc(1, sizeof *http);
    if (!http) return NULL;
    http->easy = curl_easy_init();
    if (!http->easy) {
        free(http);
        return NULL;
    }
    http->max_body = max_body_bytes;
    return http;
}

void amtsweg_http_free(amtsweg_http_t *http) {
    if (!http) return;
    curl_easy_cleanup(http->easy);
    free(http->body);
    free(http);
}

int amtsweg_http_configure(amtsweg_http_t *http, const char *ca_file, const char *cert_file,
                           const char *key_file, long connect_timeout_ms, long timeout_ms) {
    CURL *e = http->easy;
    CURLcode c = CURLE_OK;
#define SET(opt, val) do { if ((c = curl_easy_setopt(e, opt, val)) != CURLE_OK) return (int)c; } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, http->error);
    SET(CURLOPT_WRITEFUNCTION, write_callback);
    SET(CURLOPT_WRITEDATA, http);
    SET(CURLOPT_PREREQFUNCTION, prereq_callback);
    SET(CURLOPT_PREREQDATA, http);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    if (ca_file) SET(CURLOPT_CAINFO, ca_file);
    if (cert_file) {
        SET(CURLOPT_SSLCERT, cert_file);
        SET(CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (key_file) {
        SET(CURLOPT_SSLKEY, key_file);
        SET(CURLOPT_SSLKEYTYPE, "PEM");
    }
#undef SET
    return (int)c;
}

int amtsweg_http_perform(amtsweg_http_t *http, const char *method, const char *url,
                         const char *const *headers, size_t header_count,
                         const char *body, size_t body_length,
                         amtsweg_http_stop_t stop, void *stop_context, amtsweg_http_result_t *result) {
    CURL *e = http->easy;
    memset(result, 0, sizeof *result);
    http->stop = stop;
    http->stop_context = stop_context;
    http->stopped = 0;
    result->retry_after_seconds = -1;
    http->length = 0;
    http->truncated = 0;
    http->error[0] = 0;

    struct curl_slist *list = NULL;
    for (size_t i = 0; i < header_count; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (!next) {
            curl_slist_free_all(list);
            result->curl_code = CURLE_OUT_OF_MEMORY;
            return result->curl_code;
        }
        list = next;
    }
    // No 100-continue round trip: bodies are small and the server answers at once.
    struct curl_slist *next = curl_slist_append(list, "Expect:");
    if (next) list = next;

    CURLcode c = curl_easy_setopt(e, CURLOPT_URL, url);
    if (c == CURLE_OK) c = curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    if (c == CURLE_OK) {
        if (body) {
            c = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_length);
            if (c == CURLE_OK) c = curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
            if (c == CURLE_OK) c = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method);
        } else {
            c = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
            if (c == CURLE_OK) c = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") == 0 ? NULL : method);
        }
    }
    if (c == CURLE_OK) c = curl_easy_perform(e);
    result->curl_code = (int)c;

    long status = 0, connects = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    curl_off_t retry_after = 0;
    if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
        result->retry_after_seconds = (long long)retry_after;
    result->status = status;
    result->connects_opened = connects;
    result->body_truncated = http->truncated;
    strncpy(result->error, http->error, sizeof result->error - 1);
    result->stopped = http->stopped;
    http->stop = NULL;
    http->stop_context = NULL;

    // The list must not outlive this call: detach it from the handle.
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(list);
    return result->curl_code;
}

const unsigned char *amtsweg_http_body(const amtsweg_http_t *http, size_t *length) {
    *length = http->length;
    return http->body;
}
