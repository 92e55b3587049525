import switchbus.Service;
import switchbus.SwitchClient;

/** {@code serve URL QUEUE}: answers each request with its body upper-cased until killed (SIGTERM: exit 0). */
public final class Serve {
    /** Set before a failure's exit, so that the shutdown hook leaves its status alone. */
    private static volatile boolean failed;

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: serve URL QUEUE");
            System.exit(2);
        }
        SwitchClient client = new SwitchClient(args[0], "java-serve");
        Service service = client.serve(args[1], (body, message) -> Upper.upper(body));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (failed) return;
            // Killed: let the request being handled get its reply, end the session, and exit 0, not the JVM's 143.
            Thread stopper = new Thread(() -> {
                try {
                    service.stop();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                client.close();
            });
            stopper.start();
            try {
                stopper.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Runtime.getRuntime().halt(0);
        }));
        try {
            service.awaitReady();
            System.out.println("serving " + args[1]);
            System.out.flush();
            service.join();
        } catch (RuntimeException e) {
            failed = true;
            System.err.println("serve: " + e.getMessage());
            System.exit(1);
        }
    }
}
