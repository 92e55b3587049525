package switchbus;

/** Answers one request of a served queue: returns the reply's payload; a throw becomes an error reply. */
@FunctionalInterface
public interface Handler {
    byte[] handle(byte[] request, Message message) throws Exception;
}
