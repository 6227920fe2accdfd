package kwire.oracle;

import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;

/**
 * Prints Kafka's error table, org.apache.kafka.common.protocol.Errors, as a
 * JSON array ordered by code: {"code", "name", "retriable"}, where retriable
 * means the error's exception is a RetriableException.
 */
public final class ErrorCodes {
    private ErrorCodes() {}

    public static void main(String[] args) throws Exception {
        JsonMapper mapper = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
        ArrayNode out = mapper.createArrayNode();
        Errors[] errors = Errors.values().clone();
        java.util.Arrays.sort(errors, java.util.Comparator.comparingInt(Errors::code));
        for (Errors e : errors) {
            ApiException ex = e.exception();
            ObjectNode o = out.addObject();
            o.put("code", e.code());
            o.put("name", e.name());
            o.put("retriable", ex instanceof RetriableException);
        }
        System.out.println(mapper.writeValueAsString(out));
    }
}
