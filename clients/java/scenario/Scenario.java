import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import switchbus.Message;
import switchbus.QueueInfo;
import switchbus.Service;
import switchbus.SwitchClient;
import switchbus.SwitchException;
import switchbus.Transfer;

/**
 * {@code scenario URL}: the shared scenario (clients/scenario.md) against a live switch started with
 * {@code --session-ttl 2}; its RPC service is the examples' {@link Upper}. One line per step, {@code ok STEP} or {@code not ok STEP: why}; exit 0 if all passed.
 */
public final class Scenario {
    private interface Step {
        void run() throws Exception;
    }

    /** How long a step waits for a message it expects. */
    private static final long WAIT_MS = 5000;

    private final String url;
    private final String name = "scn-java-" + ProcessHandle.current().pid();
    private final String queue = name + "-q";
    private final SwitchClient client;
    /** The transfer cursor of `client`'s session. */
    private long cursor;
    private boolean failed;

    private Scenario(String url) {
        this.url = url;
        this.client = new SwitchClient(url, name);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: scenario URL");
            System.exit(2);
        }
        Scenario scenario = new Scenario(args[0]);
        scenario.runAll();
        System.exit(scenario.failed ? 1 : 0);
    }

    private void runAll() {
        step("login", this::login);
        step("queues", this::queues);
        step("send-transfer-ack", this::sendTransferAck);
        step("binary", this::binary);
        step("missing-queue", this::missingQueue);
        step("publish-bind", this::publishBind);
        step("rpc", this::rpc);
        step("session-expiry", this::sessionExpiry);
        step("restart", this::restart);
    }

    private void step(String step, Step body) {
        try {
            body.run();
            System.out.println("ok " + step);
        } catch (Throwable e) {
            failed = true;
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            System.out.println("not ok " + step + ": " + why.replace('\n', ' '));
        }
        System.out.flush();
    }

    private void login() {
        client.login();
        check(client.epoch() == 1, "expected one login, got " + client.epoch());
    }

    private void queues() {
        check(client.createQueue(queue), "the queue existed already");
        List<String> names = new ArrayList<>();
        for (QueueInfo info : client.listQueues(name)) names.add(info.name());
        check(names.contains(queue), "list shows " + names);
        QueueInfo info = client.getQueue(queue);
        check(info.name().equals(queue) && info.kind().equals("persistent") && info.length() == 0, "get shows " + info);
    }

    private void sendTransferAck() {
        client.subscribe(queue);
        List<String> sent = List.of("one", "two", "three");
        for (String body : sent) client.send(queue, body);
        List<Message> received = receive(queue, 3);
        long last = 0;
        for (int i = 0; i < 3; i++) {
            Message message = received.get(i);
            check(message.text().equals(sent.get(i)), "message " + i + " is " + message.text());
            check(message.id() > last, "ids not increasing: " + message.id() + " after " + last);
            last = message.id();
            client.ack(message.id());
        }
        Transfer after = client.transfer(cursor, 0.1);
        check(after.messages().isEmpty(), "a transfer from the cursor returned " + after.messages().size() + " message(s)");
    }

    private void binary() {
        byte[] bytes = new byte[256];
        for (int i = 0; i < 256; i++) bytes[i] = (byte) i;
        client.send(queue, bytes);
        Message message = receive(queue, 1).get(0);
        check(Arrays.equals(message.payload(), bytes), "got " + message.payload().length + " different byte(s)");
        client.ack(message.id());
    }

    private void missingQueue() {
        try {
            client.send(name + "-missing", "x");
        } catch (SwitchException e) {
            check(e.status() == 404 && e.code().equals("queue_not_found"), "got " + e.status() + " " + e.code());
            return;
        }
        throw new AssertionError("the send succeeded");
    }

    private void publishBind() {
        String topics = "scn/java-" + ProcessHandle.current().pid();
        String bound = name + "-bound";
        client.createQueue(bound);
        client.bind(bound, topics + "/+");
        client.subscribe(bound);
        List<Long> ids = client.publish(topics + "/x", "hi".getBytes(StandardCharsets.UTF_8));
        check(ids.size() == 1, "the publish reached " + ids.size() + " queue(s)");
        Message message = receive(bound, 1).get(0);
        check(message.text().equals("hi") && (topics + "/x").equals(message.topic()), "got " + message.text() + " from topic " + message.topic());
        client.ack(message.id());
    }

    private void rpc() throws Exception {
        try (Served served = new Served()) {
            String reply = new String(client.rpc(served.queue, "hello".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(10)), StandardCharsets.UTF_8);
            check(reply.equals("HELLO"), "the reply is " + reply);
        }
    }

    private void sessionExpiry() throws Exception {
        try (Served served = new Served()) {
            int before = client.epoch();
            Thread.sleep(3500);
            client.send(queue, "after expiry");
            check(client.epoch() > before, "the client did not log in again");
            String reply = new String(client.rpc(served.queue, "again".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(10)), StandardCharsets.UTF_8);
            check(reply.equals("AGAIN"), "the reply is " + reply);
        }
    }

    private void restart() throws Exception {
        System.out.println("ready-for-restart");
        System.out.flush();
        String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        check(line != null, "stdin ended before go");
        int before = client.epoch();
        String after = name + "-after";
        client.createQueue(after);
        check(client.epoch() > before, "the client did not log in again");
        client.subscribe(after);
        client.send(after, "back");
        cursor = 0;
        Message message = receive(after, 1).get(0);
        check(message.text().equals("back"), "got " + message.text());
        client.ack(message.id());
    }

    /** Transfers until {@code count} messages of {@code from} arrived (others are left alone), within WAIT_MS. */
    private List<Message> receive(String from, int count) {
        List<Message> received = new ArrayList<>();
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (received.size() < count) {
            long remaining = deadline - System.currentTimeMillis();
            check(remaining > 0, "received " + received.size() + " of " + count + " message(s) in " + WAIT_MS + " ms");
            Transfer transfer = client.transfer(cursor, remaining / 1000.0);
            for (Message message : transfer.messages()) {
                if (message.queue().equals(from)) received.add(message);
            }
            cursor = transfer.next();
        }
        check(received.size() == count, "received " + received.size() + " messages, expected " + count);
        return received;
    }

    private static void check(boolean condition, String why) {
        if (!condition) throw new AssertionError(why);
    }

    /** The upper-casing service on a queue of its own, served by a second client in this program. */
    private final class Served implements AutoCloseable {
        final String queue = name + "-rpc";
        private final SwitchClient server = new SwitchClient(url, name + "-server");
        private final Service service;

        Served() throws InterruptedException {
            service = server.serve(queue, (body, message) -> Upper.upper(body));
            service.awaitReady();
        }

        @Override
        public void close() {
            try {
                service.stop();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            server.close();
        }
    }
}
