package switchbus;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;

/**
 * A queue being served (see {@link SwitchClient#serve}): one thread creates the queue, subscribes, long-polls it
 * and runs the handler on each request, replying and acking in one request, so processing is at-least-once. A
 * new session (expired, or a restarted switch) sets the queue up again and reads from the start.
 */
public final class Service {
    /** The longest long-poll: also how long an interrupted poll may linger on the switch after a stop. */
    private static final double POLL_SECONDS = 10;

    private final SwitchClient client;
    private final String queue;
    private final Handler handler;
    private final Thread thread;
    private final CountDownLatch ready = new CountDownLatch(1);
    private final CountDownLatch done = new CountDownLatch(1);
    private boolean stopping;
    private boolean polling;
    private volatile Throwable failure;

    Service(SwitchClient client, String queue, Handler handler) {
        this.client = client;
        this.queue = queue;
        this.handler = handler;
        this.thread = new Thread(this::run, "switch-serve-" + queue);
        thread.start();
    }

    /** Waits until the queue exists and is subscribed to; throws if serving failed before that. */
    public void awaitReady() throws InterruptedException {
        ready.await();
        rethrow();
    }

    /** Stops taking requests, lets the request being handled get its reply, and waits for the end. */
    public void stop() throws InterruptedException {
        synchronized (this) {
            stopping = true;
            // Only a waiting long-poll is cut short: a reply on its way is let finish.
            if (polling) thread.interrupt();
        }
        done.await();
    }

    /** Waits until the service ends; throws what ended it, if it failed (e.g. the switch stayed unreachable). */
    public void join() throws InterruptedException {
        done.await();
        rethrow();
    }

    private void rethrow() {
        Throwable cause = failure;
        if (cause instanceof RuntimeException e) throw e;
        if (cause instanceof Error e) throw e;
        if (cause != null) throw new IllegalStateException(cause);
    }

    private void run() {
        int epoch = -1;
        long cursor = 0;
        try {
            for (;;) {
                try {
                    int session = client.sessionEpoch();
                    if (session != epoch) {
                        // A new session: the queue may be gone, and ids are counted afresh.
                        client.createQueue(queue, session);
                        client.subscribe(queue, session);
                        epoch = session;
                        cursor = 0;
                        ready.countDown();
                    }
                    synchronized (this) {
                        if (stopping) break;
                        polling = true;
                    }
                    Transfer transfer;
                    try {
                        transfer = client.transfer(cursor, POLL_SECONDS, epoch);
                    } finally {
                        synchronized (this) {
                            polling = false;
                            // An interrupt that came as the answer did is spent here.
                            Thread.interrupted();
                        }
                    }
                    for (Message message : transfer.messages()) {
                        if (isStopping()) break;
                        // The session may be subscribed to other queues (an RPC's replies): not ours to take.
                        if (queue.equals(message.queue())) handle(message, epoch);
                    }
                    cursor = transfer.next();
                } catch (SwitchException e) {
                    if (isStopping()) break;
                    if (!e.sessionLost()) throw e;
                }
            }
        } catch (Throwable e) {
            failure = e;
        } finally {
            ready.countDown();
            done.countDown();
        }
    }

    private synchronized boolean isStopping() {
        return stopping;
    }

    private void handle(Message message, int epoch) {
        byte[] reply;
        boolean error = false;
        try {
            reply = handler.handle(message.payload(), message);
        } catch (Exception e) {
            reply = String.valueOf(e.getMessage()).getBytes(StandardCharsets.UTF_8);
            error = true;
        }
        if (message.replyTo() == null) {
            try {
                client.ack(message.id(), epoch);
            } catch (SwitchException e) {
                // Acked already (another server), or the session is gone and the request comes again.
                if (!e.sessionLost() && !"message_not_found".equals(e.code())) throw e;
            }
            return;
        }
        respond(message, reply, error, epoch);
    }

    /** Replies and acks in one request, falling back to what is still possible when the request or caller is gone. */
    private void respond(Message message, byte[] reply, boolean error, int epoch) {
        String key = SwitchClient.randomId();
        for (;;) {
            SendOptions options = new SendOptions().ack(message.id()).correlationId(message.correlationId()).error(error).idempotencyKey(key);
            try {
                client.send(message.replyTo(), reply, options, epoch);
                return;
            } catch (SwitchException e) {
                if (e.sessionLost()) {
                    // The session that delivered the request is gone, and with it the proof that its id still
                    // names it. Reply without the ack: if the request survived, it comes again and is answered
                    // again, and the caller drops the second reply.
                    options.ack(0);
                    try {
                        client.send(message.replyTo(), reply, options);
                    } catch (SwitchException gone) {
                        if (!"queue_not_found".equals(gone.code())) throw gone;
                    }
                    return;
                }
                // Acked already: another server on this queue answered it.
                if ("message_not_found".equals(e.code())) return;
                if ("queue_not_found".equals(e.code())) {
                    // The caller's reply queue is gone and the switch did not ack the request: done all the same.
                    try {
                        client.ack(message.id(), epoch);
                    } catch (SwitchException ignored) {
                        // Gone too, or the session is: either way nothing is left to answer.
                    }
                    return;
                }
                if (error || e.status() == 0) throw e;
                // The switch refused the reply (too large, say): tell the caller rather than leave it waiting.
                reply = ("the reply could not be sent: " + e.getMessage()).getBytes(StandardCharsets.UTF_8);
                error = true;
            }
        }
    }
}
