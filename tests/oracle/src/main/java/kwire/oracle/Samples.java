package kwire.oracle;

import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import kwire.oracle.Schemas.Field;
import kwire.oracle.Schemas.Schema;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.types.RawTaggedField;

/**
 * Builds random instances of Kafka's generated message classes for one schema
 * version. Which fields exist in the version, which may be null and which are
 * tagged comes from the JSON schema; values go in through the classes' setters.
 * Fields outside the version keep their defaults, as Kafka requires.
 */
final class Samples {
    private static final String[] PIECES = {
        "a", "b", "z", "Q", "0", "9", "-", "_", ".", " ", "topic", "group", "kwire",
        "é", "ß", "Ж", "中", "文", "\uD83D\uDE00" /* one code point, four UTF-8 bytes */
    };

    private final Schema schema;
    private final short version;
    private final boolean flexible;
    private final Random rnd;
    private final Map<String, Method> setters = new HashMap<>();

    Samples(Schema schema, short version, long seed) {
        this.schema = schema;
        this.version = version;
        this.flexible = schema.flexible(version);
        this.rnd = new Random(seed);
    }

    /** One random message of the schema at the version. */
    Message build() {
        return (Message) fill(schema.messageClass, schema.fields, 0);
    }

    private Object fill(Class<?> cls, List<Field> fields, int depth) {
        Object obj;
        try {
            obj = cls.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot instantiate " + cls.getName(), e);
        }
        for (Field f : fields) {
            if (!f.versions().contains(version)) continue;
            if (f.tag() != null) {
                if (!f.taggedIn(version)) continue;
                // A tagged field is written only when it differs from its default:
                // leave it out now and then.
                if (rnd.nextInt(3) == 0) continue;
            }
            Method setter = setter(cls, f);
            Object value = value(cls, f, setter.getParameterTypes()[0], depth);
            try {
                setter.invoke(obj, value);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(cls.getName() + "." + setter.getName() + "(" + value + ")", e);
            }
        }
        if (flexible && rnd.nextInt(6) == 0) addUnknownTags((Message) obj, fields);
        return obj;
    }

    /** Tagged fields the schema does not know, which every reader must carry through. */
    private void addUnknownTags(Message obj, List<Field> fields) {
        TreeSet<Integer> known = new TreeSet<>();
        // Every tag the struct knows, in any version: Kafka's reader rejects a known
        // tag outside its taggedVersions instead of keeping it as unknown.
        for (Field f : fields) if (f.tag() != null) known.add(f.tag());
        int top = (known.isEmpty() ? 0 : known.last()) + 8;
        TreeSet<Integer> tags = new TreeSet<>();
        int n = 1 + rnd.nextInt(2);
        while (tags.size() < n) {
            int t = rnd.nextInt(4) == 0 ? 200 + rnd.nextInt(20000) : rnd.nextInt(top + 1);
            if (!known.contains(t)) tags.add(t);
        }
        List<RawTaggedField> unknown = obj.unknownTaggedFields();
        for (int t : tags) unknown.add(new RawTaggedField(t, bytes(rnd.nextInt(10) == 0 ? 120 + rnd.nextInt(200) : rnd.nextInt(6))));
    }

    private Method setter(Class<?> cls, Field f) {
        String key = cls.getName() + "#" + f.name();
        Method m = setters.get(key);
        if (m != null) return m;
        // Kafka's generator capitalizes the schema's field name ("timeoutMs" -> setTimeoutMs).
        String want = "set" + Character.toUpperCase(f.name().charAt(0)) + f.name().substring(1);
        for (Method c : cls.getMethods()) {
            if (c.getName().equals(want) && c.getParameterCount() == 1) {
                m = c;
                break;
            }
        }
        if (m == null) throw new IllegalStateException(cls.getName() + " has no " + want);
        setters.put(key, m);
        return m;
    }

    private Object value(Class<?> owner, Field f, Class<?> javaType, int depth) {
        boolean nullable = f.nullableIn(version);
        if (nullable && rnd.nextInt(5) == 0) return null;
        if (f.isArray()) {
            int n = arrayLength(depth);
            String elem = f.elementType();
            // Now and then a scalar array long enough for a two-byte length varint.
            if (isPrimitive(elem) && depth == 0 && rnd.nextInt(25) == 0) n = 120 + rnd.nextInt(20);
            if (isPrimitive(elem)) {
                List<Object> list = new ArrayList<>(n);
                for (int i = 0; i < n; i++) list.add(primitive(elem, Object.class, false));
                return list;
            }
            Class<?> elemClass = nested(owner, elem);
            List<Field> elemFields = schema.structFields(f);
            Collection<Object> out = newCollection(javaType, n);
            for (int i = 0; i < n; i++) out.add(fill(elemClass, elemFields, depth + 1));
            return out;
        }
        if (isPrimitive(f.type())) return primitive(f.type(), javaType, nullable);
        return fill(nested(owner, f.type()), schema.structFields(f), depth + 1);
    }

    @SuppressWarnings("unchecked")
    private static Collection<Object> newCollection(Class<?> javaType, int n) {
        if (javaType.isAssignableFrom(ArrayList.class)) return new ArrayList<>(n);
        try {
            // A *Collection class of a mapKey array (an implicit linked hash collection).
            return (Collection<Object>) javaType.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot instantiate " + javaType.getName(), e);
        }
    }

    private Class<?> nested(Class<?> owner, String structName) {
        String top = schema.messageClass.getName();
        try {
            return Class.forName(top + "$" + structName);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("no class " + top + "$" + structName + " (field of " + owner.getName() + ")");
        }
    }

    private int arrayLength(int depth) {
        int max = depth == 0 ? 4 : depth < 3 ? 3 : 2;
        return rnd.nextInt(max);
    }

    static boolean isPrimitive(String t) {
        switch (t) {
            case "bool": case "int8": case "int16": case "uint16": case "int32": case "uint32":
            case "int64": case "float64": case "string": case "bytes": case "records": case "uuid":
                return true;
            default:
                return false;
        }
    }

    private Object primitive(String type, Class<?> javaType, boolean nullable) {
        switch (type) {
            case "bool": return rnd.nextBoolean();
            case "int8": return (byte) integer(Byte.MIN_VALUE, Byte.MAX_VALUE);
            case "int16": return (short) integer(Short.MIN_VALUE, Short.MAX_VALUE);
            case "uint16": return (int) integer(0, 0xffff);
            case "int32": return (int) integer(Integer.MIN_VALUE, Integer.MAX_VALUE);
            case "uint32": return integer(0, 0xffffffffL);
            case "int64": return integer(Long.MIN_VALUE, Long.MAX_VALUE);
            case "float64": return float64();
            case "string": return string();
            case "bytes": {
                int len = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(20) == 0 ? 120 + rnd.nextInt(300) : rnd.nextInt(24);
                byte[] b = bytes(len);
                return javaType == ByteBuffer.class ? ByteBuffer.wrap(b) : b;
            }
            case "records": return records();
            case "uuid": return uuid();
            default: throw new IllegalArgumentException(type);
        }
    }

    /** Mostly edge values (0, ±1, the bounds), otherwise uniform in [lo, hi]. */
    private long integer(long lo, long hi) {
        switch (rnd.nextInt(8)) {
            case 0: return clamp(0, lo, hi);
            case 1: return clamp(-1, lo, hi);
            case 2: return lo;
            case 3: return hi;
            case 4: return clamp(1, lo, hi);
            default: {
                long span = hi - lo;
                if (span < 0 || span == Long.MAX_VALUE) return rnd.nextLong();
                return lo + (long) (rnd.nextDouble() * (span + 1.0)) % (span + 1);
            }
        }
    }

    private static long clamp(long v, long lo, long hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    private double float64() {
        switch (rnd.nextInt(6)) {
            case 0: return 0.0;
            case 1: return -0.0;
            case 2: return Double.MAX_VALUE;
            case 3: return Double.MIN_VALUE;
            default: return (rnd.nextDouble() - 0.5) * Math.pow(10, rnd.nextInt(20) - 5);
        }
    }

    /** Mostly short text; now and then long enough (over 127 bytes) for a two-byte length varint. */
    private String string() {
        int n = rnd.nextInt(5) == 0 ? 0 : rnd.nextInt(20) == 0 ? 40 + rnd.nextInt(120) : 1 + rnd.nextInt(10);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append(PIECES[rnd.nextInt(PIECES.length)]);
        return sb.toString();
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private Uuid uuid() {
        if (rnd.nextInt(6) == 0) return Uuid.ZERO_UUID;
        return new Uuid(rnd.nextLong(), rnd.nextLong());
    }

    /** Real record batches (magic 2), or none: a MemoryRecords. */
    private Object records() {
        if (rnd.nextInt(4) == 0) return Compat.emptyRecords();
        int n = 1 + rnd.nextInt(3);
        Object[] recs = Compat.recordArray(n);
        for (int i = 0; i < n; i++) {
            byte[] key = rnd.nextInt(3) == 0 ? null : string().getBytes(StandardCharsets.UTF_8);
            byte[] value = rnd.nextInt(5) == 0 ? null : bytes(rnd.nextInt(40));
            Header[] headers = new Header[rnd.nextInt(3)];
            for (int h = 0; h < headers.length; h++) headers[h] = new RecordHeader("h" + h, bytes(rnd.nextInt(5)));
            recs[i] = Compat.simpleRecord(1_700_000_000_000L + rnd.nextInt(1_000_000), key, value, headers);
        }
        long baseOffset = rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(1 << 20);
        Compression compression = rnd.nextInt(3) == 0 ? Compression.gzip().build() : Compression.NONE;
        if (rnd.nextBoolean()) {
            return Compat.withRecords(baseOffset, compression, recs);
        }
        return Compat.withIdempotentRecords(baseOffset, compression, rnd.nextInt(1 << 16),
                (short) rnd.nextInt(5), rnd.nextInt(1000), rnd.nextInt(100), recs);
    }
}
