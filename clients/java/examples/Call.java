import java.nio.charset.StandardCharsets;
import switchbus.SwitchClient;
import switchbus.SwitchException;

/** {@code call URL QUEUE BODY}: one RPC; prints the reply and a newline. */
public final class Call {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: call URL QUEUE BODY");
            System.exit(2);
        }
        try (SwitchClient client = new SwitchClient(args[0], "java-call")) {
            byte[] reply = client.rpc(args[1], args[2].getBytes(StandardCharsets.UTF_8));
            System.out.write(reply);
            System.out.write('\n');
            System.out.flush();
        } catch (SwitchException e) {
            System.err.println("call: " + e.getMessage());
            System.exit(1);
        }
    }
}
