/** The examples' service: ASCII a-z upper-cased, every other byte unchanged (so binary payloads survive). */
final class Upper {
    private Upper() {
    }

    static byte[] upper(byte[] body) {
        byte[] out = body.clone();
        for (int i = 0; i < out.length; i++) {
            if (out[i] >= 'a' && out[i] <= 'z') out[i] -= 'a' - 'A';
        }
        return out;
    }
}
