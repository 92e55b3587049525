package switchbus;

/**
 * Every failure the client reports. {@code status} is the HTTP status when the switch answered with an error
 * (its JSON error {@code code}, e.g. 404 {@code queue_not_found}); 0 for failures on this side, whose codes are
 * {@code unavailable} (the switch stayed unreachable), {@code timeout} (no RPC reply in time) and
 * {@code remote_error} (the service answered with an error reply).
 */
public class SwitchException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    public static final String UNAVAILABLE = "unavailable";
    public static final String TIMEOUT = "timeout";
    public static final String REMOTE_ERROR = "remote_error";

    private final int status;
    private final String code;

    public SwitchException(int status, String code, String message) {
        this(status, code, message, null);
    }

    public SwitchException(int status, String code, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.code = code;
    }

    /** The HTTP status, or 0 when the switch did not answer with an error. */
    public int status() {
        return status;
    }

    /** The stable error code to branch on. */
    public String code() {
        return code;
    }

    /** The session is gone (expired, or the switch restarted): logging in again helps. */
    public boolean sessionLost() {
        return status == 401 && "session_not_found".equals(code);
    }

    @Override
    public String toString() {
        return "SwitchException(" + (status == 0 ? "" : status + " ") + code + "): " + getMessage();
    }
}
