package switchbus;

import java.util.List;
import java.util.Map;

/** A queue as list and get show it; {@code owner} is null for persistent queues, {@code bindings} empty without any. */
public record QueueInfo(String name, String kind, String owner, long length, boolean alive, List<String> bindings) {
    @SuppressWarnings("unchecked")
    static QueueInfo fromJson(Map<String, Object> json) {
        List<String> bindings = (List<String>) json.get("bindings");
        return new QueueInfo(
            (String) json.get("name"),
            (String) json.get("kind"),
            (String) json.get("owner"),
            ((Number) json.get("length")).longValue(),
            Boolean.TRUE.equals(json.get("alive")),
            bindings == null ? List.of() : List.copyOf(bindings)
        );
    }
}
