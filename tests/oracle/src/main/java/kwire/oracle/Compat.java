package kwire.oracle;

import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;

/**
 * The few kafka-clients classes whose package moved between releases (record
 * sets went to ...record.internal in 4.x), reached by reflection so that one
 * source tree builds against 4.4.0 and against 3.9.1 (for the versions 4.0
 * removed).
 */
final class Compat {
    private Compat() {}

    static final Class<?> MEMORY_RECORDS = first(
            "org.apache.kafka.common.record.internal.MemoryRecords", "org.apache.kafka.common.record.MemoryRecords");
    static final Class<?> SIMPLE_RECORD = first(
            "org.apache.kafka.common.record.internal.SimpleRecord", "org.apache.kafka.common.record.SimpleRecord");
    private static final Class<?> APP_INFO = first(
            "org.apache.kafka.common.utils.internals.AppInfoParser", "org.apache.kafka.common.utils.AppInfoParser");
    private static final Class<?> RECORD_ARRAY = Array.newInstance(SIMPLE_RECORD, 0).getClass();

    private static Class<?> first(String... names) {
        for (String n : names) {
            try {
                return Class.forName(n);
            } catch (ClassNotFoundException e) {
                // try the other package
            }
        }
        throw new IllegalStateException("none of " + String.join(", ", names) + " is on the classpath");
    }

    private static Object call(Method m, Object... args) {
        try {
            return m.invoke(null, args);
        } catch (InvocationTargetException e) {
            throw new IllegalStateException(m.getName() + " failed", e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(m.getName(), e);
        }
    }

    static String kafkaVersion() {
        try {
            return (String) call(APP_INFO.getMethod("getVersion"));
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    /** MemoryRecords.EMPTY */
    static Object emptyRecords() {
        try {
            return MEMORY_RECORDS.getField("EMPTY").get(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** new SimpleRecord(timestamp, key, value, headers) */
    static Object simpleRecord(long timestamp, byte[] key, byte[] value, Header[] headers) {
        try {
            return SIMPLE_RECORD.getConstructor(long.class, byte[].class, byte[].class, Header[].class)
                    .newInstance(timestamp, key, value, headers);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    static Object[] recordArray(int n) {
        return (Object[]) Array.newInstance(SIMPLE_RECORD, n);
    }

    /** MemoryRecords.withRecords(baseOffset, compression, records...) */
    static Object withRecords(long baseOffset, Compression compression, Object[] records) {
        try {
            return call(MEMORY_RECORDS.getMethod("withRecords", long.class, Compression.class, RECORD_ARRAY),
                    baseOffset, compression, records);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }

    /** MemoryRecords.withIdempotentRecords(baseOffset, compression, producerId, epoch, sequence, leaderEpoch, records...) */
    static Object withIdempotentRecords(long baseOffset, Compression compression, long producerId, short epoch,
                                        int baseSequence, int leaderEpoch, Object[] records) {
        try {
            return call(MEMORY_RECORDS.getMethod("withIdempotentRecords", long.class, Compression.class, long.class,
                            short.class, int.class, int.class, RECORD_ARRAY),
                    baseOffset, compression, producerId, epoch, baseSequence, leaderEpoch, records);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }
}
