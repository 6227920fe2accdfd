// Prints Kafka's error table (org.apache.kafka.common.protocol.Errors) as JSON:
// [{"code": c, "name": "NAME", "retriable": bool}, ...] ordered by code, where
// retriable means the error's exception is a RetriableException.
// Run with the kafka-clients jar on the class path (single-file source launch).
import java.util.Arrays;
import java.util.Comparator;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;

public class ErrorTable {
    public static void main(String[] args) {
        Errors[] all = Errors.values().clone();
        Arrays.sort(all, Comparator.comparingInt(Errors::code));
        StringBuilder out = new StringBuilder("[\n");
        for (int i = 0; i < all.length; i++) {
            Errors e = all[i];
            out.append(String.format(" {\"code\": %d, \"name\": \"%s\", \"retriable\": %b}%s\n", e.code(), e.name(),
                    e.exception() instanceof RetriableException, i + 1 < all.length ? "," : ""));
        }
        System.out.print(out.append("]\n"));
    }
}
