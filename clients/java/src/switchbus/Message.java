package switchbus;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;

/**
 * A message as transfer returns it, its payload as bytes again (the switch sends UTF-8 text, or base64 with
 * {@code encoding: "base64"} when the payload is not valid UTF-8). Absent optional fields are null/false.
 */
public record Message(
    long id,
    String queue,
    byte[] payload,
    String correlationId,
    String replyTo,
    boolean error,
    String origin,
    long time,
    String topic,
    boolean retained
) {
    /** The payload read as UTF-8 text. */
    public String text() {
        return new String(payload, StandardCharsets.UTF_8);
    }

    static Message fromJson(Map<String, Object> json) {
        String payload = (String) json.get("payload");
        byte[] bytes = "base64".equals(json.get("encoding"))
            ? Base64.getDecoder().decode(payload)
            : payload.getBytes(StandardCharsets.UTF_8);
        return new Message(
            ((Number) json.get("id")).longValue(),
            (String) json.get("queue"),
            bytes,
            (String) json.get("correlationId"),
            (String) json.get("replyTo"),
            Boolean.TRUE.equals(json.get("error")),
            (String) json.get("origin"),
            ((Number) json.get("time")).longValue(),
            (String) json.get("topic"),
            Boolean.TRUE.equals(json.get("retained"))
        );
    }
}
