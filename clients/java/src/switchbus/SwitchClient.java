package switchbus;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A client of one switch's {@code /v1} API. It logs in lazily as {@code clientName}; every request keeps the
 * session alive; when the switch says the session is gone (expired, or a switch restarted) it logs in again,
 * restores its subscriptions and repeats the request once; a switch it cannot reach is retried for up to 10 s.
 * Safe to share between threads ({@link #rpc} calls take turns).
 */
public final class SwitchClient implements AutoCloseable {
    /** Seconds an RPC waits for its reply by default. */
    public static final Duration DEFAULT_RPC_TIMEOUT = Duration.ofSeconds(30);
    /** The longest single long-poll this client asks for; a longer wait is several. */
    private static final double MAX_POLL_SECONDS = 25;
    /** Re-logins tolerated while one RPC sets itself up, before giving up. */
    private static final int SESSION_ATTEMPTS = 3;
    private static final SecureRandom RANDOM = new SecureRandom();

    private record Session(String token, int epoch) {
    }

    /** The RPC reply queue of one session, and the transfer cursor on it. */
    private static final class ReplyQueue {
        final String name;
        final int epoch;
        long cursor;

        ReplyQueue(String name, int epoch) {
            this.name = name;
            this.epoch = epoch;
        }
    }

    private final Http http;
    private final String clientName;
    private final Map<String, String> credentials;
    private final Object sessionLock = new Object();
    private final Object rpcLock = new Object();
    /** Queues this client subscribed to, restored after every re-login. */
    private final Set<String> subscriptions = ConcurrentHashMap.newKeySet();
    private volatile Session current;
    private int logins;
    private ReplyQueue reply;

    public SwitchClient(String url, String clientName) {
        this(url, clientName, Map.of());
    }

    /**
     * With credentials for a switch with an auth file: {@code principal} and {@code secret}, or {@code apiKey},
     * sent with every login.
     */
    public SwitchClient(String url, String clientName, Map<String, String> credentials) {
        this.http = new Http(url);
        this.clientName = clientName;
        this.credentials = Map.copyOf(credentials);
    }

    // --- session --------------------------------------------------------------------------------------------

    /** Logs in now if there is no session yet (requests otherwise do it when needed). */
    public void login() {
        session();
    }

    /** Counts logins: it changes whenever the session does (a new session may be on a switch that forgot all). */
    public int epoch() {
        synchronized (sessionLock) {
            return logins;
        }
    }

    /** Ends the session, if any: its temporary queues go with it; the next request logs in afresh. */
    public void logout() {
        Session session;
        synchronized (sessionLock) {
            session = current;
            current = null;
            subscriptions.clear();
        }
        if (session == null) return;
        Http.Request request = new Http.Request("DELETE", "/session");
        request.token = session.token();
        request.retry = false;
        try {
            http.send(request);
        } catch (SwitchException e) {
            if (!e.sessionLost()) throw e;
        }
    }

    /** Logs out, best effort. */
    @Override
    public void close() {
        try {
            logout();
        } catch (SwitchException e) {
            // The session ends by itself after its TTL.
        }
    }

    // --- queues ---------------------------------------------------------------------------------------------

    /** Creates a persistent queue; false if a queue of that name existed already (it is left as it is). */
    public boolean createQueue(String name) {
        return createQueue(name, null);
    }

    /** Creates a temporary queue owned by this session (it goes when the session ends); returns its name. */
    public String createTemporaryQueue() {
        return (String) object(request(new Http.Request("POST", "/queues"), null, false)).get("name");
    }

    public void destroyQueue(String name) {
        request(new Http.Request("DELETE", "/queues/" + Http.encode(name)), null, false);
    }

    /** The queues whose name starts with {@code prefix} (null or "" for all), sorted by name. */
    @SuppressWarnings("unchecked")
    public List<QueueInfo> listQueues(String prefix) {
        Http.Request request = new Http.Request("GET", "/queues");
        if (prefix != null && !prefix.isEmpty()) request.query("prefix", prefix);
        List<QueueInfo> queues = new ArrayList<>();
        for (Object queue : (List<Object>) object(request(request, null, false)).get("queues")) {
            queues.add(QueueInfo.fromJson((Map<String, Object>) queue));
        }
        return queues;
    }

    public QueueInfo getQueue(String name) {
        return QueueInfo.fromJson(object(request(new Http.Request("GET", "/queues/" + Http.encode(name)), null, false)));
    }

    // --- messages -------------------------------------------------------------------------------------------

    public long send(String queue, String body) {
        return send(queue, body.getBytes(StandardCharsets.UTF_8), new SendOptions());
    }

    public long send(String queue, byte[] body) {
        return send(queue, body, new SendOptions());
    }

    /**
     * Sends {@code body} to {@code queue}; returns the message's id, or 0 for a reply-and-ack whose caller is
     * gone (the switch acked the request and dropped the reply). A send that had to be retried is never
     * enqueued twice: each send carries an idempotency key. With {@code ack}, it is not repeated after a
     * re-login: a switch restarted in memory numbers messages afresh, so the id may name another message.
     */
    public long send(String queue, byte[] body, SendOptions options) {
        return send(queue, body, options, null);
    }

    /** Subscribes this session to a queue; the subscription is restored after every re-login. */
    public void subscribe(String queue) {
        subscribe(queue, null);
        subscriptions.add(queue);
    }

    public void unsubscribe(String queue) {
        subscriptions.remove(queue);
        request(new Http.Request("DELETE", "/session/subscriptions/" + Http.encode(queue)), null, false);
    }

    /**
     * Long-polls the subscribed queues for messages with ids above {@code after}, waiting up to
     * {@code timeoutSeconds} when there are none. If the session had to be renewed meanwhile, it reads again from
     * the start (a restarted switch numbers messages afresh): unacked messages may come again (at-least-once).
     */
    public Transfer transfer(long after, double timeoutSeconds) {
        int epoch = session().epoch();
        try {
            return transfer(after, timeoutSeconds, epoch);
        } catch (SwitchException e) {
            if (!e.sessionLost()) throw e;
            return transfer(0, timeoutSeconds, session().epoch());
        }
    }

    /** Acknowledges a message; not repeated after a re-login (see {@link #send(String, byte[], SendOptions)}). */
    public void ack(long id) {
        ack(id, null);
    }

    // --- topics ---------------------------------------------------------------------------------------------

    /** Publishes to a topic; returns the ids of the copies the bound queues received (empty if nobody listens). */
    public List<Long> publish(String topic, byte[] body) {
        return publish(topic, body, false);
    }

    /** With {@code retain}, the message also becomes the topic's retained message. */
    @SuppressWarnings("unchecked")
    public List<Long> publish(String topic, byte[] body, boolean retain) {
        Http.Request request = new Http.Request("POST", "/topics/" + Http.encode(topic) + "/messages");
        if (retain) request.query("retain", true);
        request.body = body;
        request.contentType = "application/octet-stream";
        request.idempotencyKey = randomId();
        List<Long> ids = new ArrayList<>();
        for (Object id : (List<Object>) object(request(request, null, false)).get("ids")) ids.add(((Number) id).longValue());
        return ids;
    }

    /** Binds a queue to a topic filter ({@code +} one level, {@code #} the rest); false if it was bound already. */
    public boolean bind(String queue, String filter) {
        String path = "/queues/" + Http.encode(queue) + "/bindings/" + Http.encode(filter);
        return Boolean.TRUE.equals(object(request(new Http.Request("PUT", path), null, false)).get("created"));
    }

    public void unbind(String queue, String filter) {
        String path = "/queues/" + Http.encode(queue) + "/bindings/" + Http.encode(filter);
        request(new Http.Request("DELETE", path), null, false);
    }

    // --- RPC and serving ------------------------------------------------------------------------------------

    public byte[] rpc(String queue, byte[] body) {
        return rpc(queue, body, DEFAULT_RPC_TIMEOUT);
    }

    /**
     * Calls the service on {@code queue}: sends {@code body} with this client's temporary reply queue and a fresh
     * correlation id, and returns the reply's payload. The queue is created if missing, so a call made before
     * its service starts waits for it. A new session (the old one expired, or the switch restarted) means a new
     * reply queue: the request is sent again (at-least-once). Fails with code {@code timeout} when no reply came
     * in time, {@code remote_error} when the service answered with an error reply.
     */
    public byte[] rpc(String queue, byte[] body, Duration timeout) {
        synchronized (rpcLock) {
            long deadline = System.nanoTime() + timeout.toNanos();
            String correlationId = randomId();
            int sentIn = -1;
            for (int attempt = 1; ; attempt++) {
                try {
                    ReplyQueue replies = replyQueue();
                    if (sentIn != replies.epoch) {
                        createQueue(queue, replies.epoch);
                        // A fresh key per session: the same one would make a resend a duplicate of a lost request.
                        SendOptions options = new SendOptions().replyTo(replies.name).correlationId(correlationId).idempotencyKey(randomId());
                        send(queue, body, options, replies.epoch);
                        sentIn = replies.epoch;
                    }
                    return awaitReply(queue, replies, correlationId, deadline, timeout);
                } catch (SwitchException e) {
                    if (!e.sessionLost() || attempt >= SESSION_ATTEMPTS) throw e;
                }
            }
        }
    }

    /**
     * Serves {@code queue} on a thread of its own: creates the queue, subscribes and answers each request with
     * what {@code handler} returns (reply-and-ack), until {@link Service#stop()}.
     */
    public Service serve(String queue, Handler handler) {
        return new Service(this, queue, handler);
    }

    // --- what Service uses: requests tied to one session ----------------------------------------------------

    /** The current session's epoch, logging in if there is none. */
    int sessionEpoch() {
        return session().epoch();
    }

    boolean createQueue(String name, Integer pin) {
        Object answer = request(new Http.Request("PUT", "/queues/" + Http.encode(name)), pin, false);
        return Boolean.TRUE.equals(object(answer).get("created"));
    }

    void subscribe(String queue, Integer pin) {
        request(new Http.Request("PUT", "/session/subscriptions/" + Http.encode(queue)), pin, false);
    }

    long send(String queue, byte[] body, SendOptions options, Integer pin) {
        Http.Request request = new Http.Request("POST", "/queues/" + Http.encode(queue) + "/messages");
        request.query("correlationId", options.correlationId).query("replyTo", options.replyTo);
        if (options.ack > 0) request.query("ack", options.ack);
        if (options.error) request.query("error", true);
        request.body = body;
        request.contentType = "application/octet-stream";
        request.idempotencyKey = options.idempotencyKey != null ? options.idempotencyKey : randomId();
        Map<String, Object> answer = object(request(request, pin, options.ack > 0));
        return answer.get("id") instanceof Number id ? id.longValue() : 0;
    }

    @SuppressWarnings("unchecked")
    Transfer transfer(long after, double timeoutSeconds, Integer pin) {
        Http.Request request = new Http.Request("GET", "/transfer").query("after", after).query("timeout", seconds(timeoutSeconds));
        request.poll = timeoutSeconds;
        Map<String, Object> answer = object(request(request, pin, false));
        List<Message> messages = new ArrayList<>();
        for (Object message : (List<Object>) answer.get("messages")) messages.add(Message.fromJson((Map<String, Object>) message));
        return new Transfer(messages, ((Number) answer.get("next")).longValue());
    }

    void ack(long id, Integer pin) {
        request(new Http.Request("DELETE", "/messages/" + id), pin, true);
    }

    // --- internals ------------------------------------------------------------------------------------------

    private Session session() {
        Session session = current;
        if (session != null) return session;
        synchronized (sessionLock) {
            if (current != null) return current;
            Map<String, Object> body = new LinkedHashMap<>(credentials);
            body.put("client", clientName);
            String token = (String) object(http.send(new Http.Request("POST", "/sessions").json(body))).get("token");
            for (String queue : subscriptions) {
                Http.Request request = new Http.Request("PUT", "/session/subscriptions/" + Http.encode(queue));
                request.token = token;
                try {
                    http.send(request);
                } catch (SwitchException e) {
                    // A queue that is gone (a switch restarted in memory) is forgotten; its owner re-creates it.
                    if (!"queue_not_found".equals(e.code())) throw e;
                    subscriptions.remove(queue);
                }
            }
            current = new Session(token, ++logins);
            return current;
        }
    }

    /**
     * Sends the request in the session, logging in first if needed. On a lost session it logs in again and
     * repeats the request once, unless it is pinned to a session ({@code pin}, its epoch: then it fails with
     * 401 {@code session_not_found} for the caller to start over) or names a message id ({@code once}).
     */
    private Object request(Http.Request request, Integer pin, boolean once) {
        for (boolean repeated = false; ; repeated = true) {
            Session session = session();
            if (pin != null && pin != session.epoch()) {
                throw new SwitchException(401, "session_not_found", "the session changed before the request was sent");
            }
            request.token = session.token();
            try {
                return http.send(request);
            } catch (SwitchException e) {
                if (!e.sessionLost()) throw e;
                synchronized (sessionLock) {
                    // Only the first to notice drops the session; the next request logs in again.
                    if (current == session) current = null;
                }
                if (repeated || pin != null || once) throw e;
            }
        }
    }

    private ReplyQueue replyQueue() {
        int epoch = session().epoch();
        if (reply != null && reply.epoch == epoch) return reply;
        String name = (String) object(request(new Http.Request("POST", "/queues"), epoch, false)).get("name");
        subscribe(name, epoch);
        reply = new ReplyQueue(name, epoch);
        return reply;
    }

    private byte[] awaitReply(String queue, ReplyQueue replies, String correlationId, long deadline, Duration timeout) {
        for (;;) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0) {
                throw new SwitchException(0, SwitchException.TIMEOUT,
                    "no reply from queue \"" + queue + "\" within " + seconds(timeout.toMillis() / 1000.0) + " s");
            }
            Transfer transfer = transfer(replies.cursor, Math.min(MAX_POLL_SECONDS, remaining / 1e9), replies.epoch);
            Message answer = null;
            for (Message message : transfer.messages()) {
                // The session may be subscribed to other queues too: those are not ours to take.
                if (!replies.name.equals(message.queue())) continue;
                try {
                    ack(message.id(), replies.epoch);
                } catch (SwitchException e) {
                    // The reply queue is this client's own: an unacked reply only takes room until the session ends.
                }
                // Other correlation ids are late replies of calls that timed out, or duplicates: dropped.
                if (correlationId.equals(message.correlationId())) answer = message;
            }
            replies.cursor = transfer.next();
            if (answer == null) continue;
            if (answer.error()) {
                throw new SwitchException(0, SwitchException.REMOTE_ERROR,
                    "queue \"" + queue + "\" replied with an error: " + answer.text());
            }
            return answer.payload();
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object json) {
        return json instanceof Map<?, ?> ? (Map<String, Object>) json : Map.of();
    }

    /** Seconds as the switch reads them: plain decimal, never an exponent. */
    private static String seconds(double value) {
        return java.math.BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
    }

    static String randomId() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
