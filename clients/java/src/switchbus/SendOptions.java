package switchbus;

/** The optional parts of a send: {@code new SendOptions().correlationId("c1").replyTo("tmp-...")}. */
public final class SendOptions {
    String correlationId;
    String replyTo;
    long ack;
    boolean error;
    String idempotencyKey;

    /** Carried with the message, e.g. to match a reply to its request. */
    public SendOptions correlationId(String value) {
        correlationId = value;
        return this;
    }

    /** The queue a reply should go to. */
    public SendOptions replyTo(String value) {
        replyTo = value;
        return this;
    }

    /** Acknowledges this message id in the same atomic step (reply-and-ack). */
    public SendOptions ack(long id) {
        ack = id;
        return this;
    }

    /** Marks the message as a reply reporting a failure. */
    public SendOptions error(boolean value) {
        error = value;
        return this;
    }

    /** A retried send with the same key enqueues nothing; by default each send gets a fresh key. */
    public SendOptions idempotencyKey(String value) {
        idempotencyKey = value;
        return this;
    }
}
