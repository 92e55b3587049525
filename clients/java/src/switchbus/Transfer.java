package switchbus;

import java.util.List;

/** What one transfer returned: the messages, and the cursor to pass as {@code after} next time. */
public record Transfer(List<Message> messages, long next) {
}
