package switchbus;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * HTTP to one switch: JSON answers parsed, error answers turned into {@link SwitchException}, and requests that
 * could not reach the switch (refused, reset, shutting down for a restart) retried with backoff for up to
 * {@link #RETRY_FOR_MS}.
 */
final class Http {
    static final long RETRY_FOR_MS = 10_000;
    /** Beyond a request's own long-poll wait, how long to wait for its answer before calling the switch dead. */
    private static final Duration GRACE = Duration.ofSeconds(30);
    private static final long BACKOFF_INITIAL_MS = 50;
    private static final long BACKOFF_MAX_MS = 1000;
    /** Codes for error bodies that are not the switch's own (a proxy, or the server answering while it closes). */
    private static final Map<Integer, String> CODE_BY_STATUS = Map.of(
        400, "invalid_request", 401, "session_required", 404, "not_found", 405, "method_not_allowed",
        413, "payload_too_large", 415, "unsupported_media_type", 429, "limit_exceeded", 503, "shutting_down");

    /** One request under /v1; {@code path} is already percent-encoded. */
    static final class Request {
        final String method;
        final String path;
        final Map<String, String> query = new LinkedHashMap<>();
        byte[] body;
        String contentType;
        String token;
        String idempotencyKey;
        /** Seconds the switch may hold the request open (a long-poll). */
        double poll;
        /** False: one attempt, for best-effort requests (the logout in close). */
        boolean retry = true;

        Request(String method, String path) {
            this.method = method;
            this.path = path;
        }

        Request query(String name, Object value) {
            if (value != null) query.put(name, value.toString());
            return this;
        }

        Request json(Object value) {
            body = Json.write(value).getBytes(StandardCharsets.UTF_8);
            contentType = "application/json";
            return this;
        }
    }

    private final HttpClient client;
    private final String base;

    Http(String url) {
        int end = url.length();
        while (end > 0 && url.charAt(end - 1) == '/') end--;
        base = url.substring(0, end) + "/v1";
        // HTTP/1.1 as the switch speaks it: no h2c upgrade attempt on every new connection.
        HttpClient.Builder builder = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5));
        if (base.regionMatches(true, 0, "http:", 0, 5)) builder.sslContext(NoTls.context());
        client = builder.build();
    }

    /** Sends the request; the parsed JSON answer, or null for one without a body (204). */
    Object send(Request request) {
        HttpRequest http = build(request);
        long firstFailure = -1;
        long step = BACKOFF_INITIAL_MS;
        for (;;) {
            Exception failure;
            try {
                HttpResponse<byte[]> response = client.send(http, HttpResponse.BodyHandlers.ofByteArray());
                int status = response.statusCode();
                String text = new String(response.body(), StandardCharsets.UTF_8);
                if (status >= 200 && status < 300) return text.isEmpty() ? null : Json.parse(text);
                SwitchException error = toError(status, text);
                // A switch shutting down comes back (a restart) or stays away (then the retry window runs out).
                if (status != 503 || "storage_failed".equals(error.code())) throw error;
                failure = error;
            } catch (HttpConnectTimeoutException e) {
                failure = e;
            } catch (HttpTimeoutException e) {
                throw new SwitchException(0, SwitchException.UNAVAILABLE, "no answer from " + base + " in time", e);
            } catch (IOException e) {
                failure = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SwitchException(0, "aborted", "interrupted", e);
            }
            long now = System.currentTimeMillis();
            if (firstFailure < 0) firstFailure = now;
            // Equal jitter: clients that lost the switch together do not all knock again together.
            long wait = step / 2 + ThreadLocalRandom.current().nextLong(step / 2 + 1);
            step = Math.min(BACKOFF_MAX_MS, step * 2);
            if (!request.retry || now - firstFailure + wait > RETRY_FOR_MS) {
                String reason = failure.getMessage() != null ? failure.getMessage()
                    : failure instanceof java.net.ConnectException ? "connection refused" : failure.getClass().getSimpleName();
                throw new SwitchException(0, SwitchException.UNAVAILABLE,
                    "the switch at " + base + " is unavailable (kept trying for " + (request.retry ? RETRY_FOR_MS : 0) + " ms): " + reason, failure);
            }
            try {
                Thread.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SwitchException(0, "aborted", "interrupted", e);
            }
        }
    }

    private HttpRequest build(Request request) {
        StringBuilder uri = new StringBuilder(base).append(request.path);
        char separator = '?';
        for (Map.Entry<String, String> entry : request.query.entrySet()) {
            uri.append(separator).append(entry.getKey()).append('=').append(encode(entry.getValue()));
            separator = '&';
        }
        HttpRequest.BodyPublisher body = request.body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofByteArray(request.body);
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(uri.toString()))
            .method(request.method, body)
            .timeout(GRACE.plusMillis((long) (request.poll * 1000)));
        if (request.contentType != null) builder.header("Content-Type", request.contentType);
        if (request.token != null) builder.header("Authorization", "Bearer " + request.token);
        if (request.idempotencyKey != null) builder.header("Idempotency-Key", request.idempotencyKey);
        return builder.build();
    }

    private static SwitchException toError(int status, String text) {
        try {
            Object body = Json.parse(text);
            if (body instanceof Map<?, ?> map && map.get("error") instanceof Map<?, ?> error
                && error.get("code") instanceof String code && error.get("message") instanceof String message) {
                return new SwitchException(status, code, message);
            }
        } catch (IllegalArgumentException notJson) {
            // Described below from the status.
        }
        String shown = text.length() > 200 ? text.substring(0, 200) + "…" : text;
        return new SwitchException(status, CODE_BY_STATUS.getOrDefault(status, "internal"),
            "HTTP " + status + (shown.isEmpty() ? "" : ": " + shown));
    }

    /** Percent-encodes a path segment or query value: everything but the unreserved characters (so `/` too). */
    static String encode(String value) {
        StringBuilder out = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                || c == '-' || c == '_' || c == '.' || c == '~') {
                out.append((char) c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                    .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return out.toString();
    }
}
