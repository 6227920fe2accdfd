package kwire.oracle;

import java.util.Arrays;
import java.util.Comparator;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;

/**
 * Prints Kafka's error table, org.apache.kafka.common.protocol.Errors, as a
 * JSON array ordered by code, one error a line:
 * {"code": 3, "name": "UNKNOWN_TOPIC_OR_PARTITION", "retriable": true}, where
 * retriable means the error's exception is a RetriableException.
 */
public final class ErrorCodes {
    private ErrorCodes() {}

    public static void main(String[] args) {
        Errors[] errors = Errors.values().clone();
        Arrays.sort(errors, Comparator.comparingInt(Errors::code));
        StringBuilder sb = new StringBuilder("[\n");
        for (int i = 0; i < errors.length; i++) {
            Errors e = errors[i];
            if (!e.name().matches("[A-Z0-9_]+")) throw new IllegalStateException("unexpected name " + e.name());
            sb.append("  {\"code\": ").append(e.code())
              .append(", \"name\": \"").append(e.name())
              .append("\", \"retriable\": ").append(e.exception() instanceof RetriableException)
              .append(i + 1 < errors.length ? "},\n" : "}\n");
        }
        sb.append("]");
        System.out.println(sb);
    }
}
