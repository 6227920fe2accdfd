package kwire.oracle;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import kwire.oracle.Schemas.Schema;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.protocol.Readable;

/**
 * The corpus: one message a line, "schemaName apiKey version hex", where
 * apiKey is -1 for headers and data schemas, and hex (lower case) is empty
 * for a message of zero bytes. Lines starting with '#' are comments.
 */
final class Corpus {
    private static final HexFormat HEX = HexFormat.of();

    private Corpus() {}

    /** Serializes a message with Kafka's own code, checking the size it announced. */
    static byte[] serialize(Message m, short version) {
        ObjectSerializationCache cache = new ObjectSerializationCache();
        int size = m.size(cache, version);
        ByteBuffer buf = ByteBuffer.allocate(size);
        m.write(new ByteBufferAccessor(buf), cache, version);
        if (buf.position() != size) {
            throw new IllegalStateException("wrote " + buf.position() + " bytes, announced " + size);
        }
        return buf.array();
    }

    /** Deserializes with the class's (Readable, short) constructor; the whole buffer must be used. */
    static Message deserialize(Schema s, byte[] bytes, short version) throws Exception {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        Constructor<? extends Message> ctor = s.messageClass.getConstructor(Readable.class, short.class);
        Message m;
        try {
            m = ctor.newInstance(new ByteBufferAccessor(buf), version);
        } catch (InvocationTargetException e) {
            throw (e.getCause() instanceof Exception) ? (Exception) e.getCause() : e;
        }
        if (buf.hasRemaining()) {
            throw new IllegalStateException(buf.remaining() + " of " + bytes.length + " bytes left unread");
        }
        return m;
    }

    static String line(Schema s, short version, byte[] bytes) {
        return s.name + " " + s.apiKey + " " + version + " " + HEX.formatHex(bytes);
    }

    static final class GenerateStats {
        int schemas;
        int versions;
        int samples;
        long bytes;
        final List<String> failures = new ArrayList<>();
    }

    /**
     * Writes `perVersion` random samples of every schema in every version its
     * class supports. Each sample is read back with Kafka's code and must
     * re-serialize to the same bytes and compare equal, or it is a failure.
     */
    static GenerateStats generate(Schemas schemas, Set<String> only, Except except, long seed, int perVersion,
                                  Writer out) throws IOException {
        GenerateStats st = new GenerateStats();
        for (Schema s : schemas.byName.values()) {
            if (only != null && !only.contains(s.name)) continue;
            st.schemas++;
            for (short v = s.lowestVersion(); v <= s.highestVersion(); v++) {
                if (except.covers(s, v)) continue;
                st.versions++;
                for (int i = 0; i < perVersion; i++) {
                    long sampleSeed = mix(seed, s.name, v, i);
                    String where = s.name + " v" + v + " sample " + i + " (seed " + sampleSeed + ")";
                    byte[] bytes;
                    try {
                        Message m = new Samples(s, v, sampleSeed).build();
                        bytes = serialize(m, v);
                        Message back = deserialize(s, bytes, v);
                        if (!back.equals(m)) throw new IllegalStateException("read back unequal: " + back);
                        if (!Arrays.equals(serialize(back, v), bytes)) {
                            throw new IllegalStateException("re-serialized bytes differ");
                        }
                    } catch (Exception e) {
                        st.failures.add(where + ": " + describe(e));
                        continue;
                    }
                    out.write(line(s, v, bytes));
                    out.write('\n');
                    st.samples++;
                    st.bytes += bytes.length;
                }
            }
        }
        return st;
    }

    /** A seed for one sample that depends only on the run's seed and the sample's identity. */
    static long mix(long seed, String name, int version, int index) {
        long h = seed * 0x9E3779B97F4A7C15L;
        h ^= name.hashCode() * 0xC2B2AE3D27D4EB4FL;
        h ^= (long) version << 32 | index;
        h ^= h >>> 31;
        h *= 0xBF58476D1CE4E5B9L;
        return h ^ (h >>> 29);
    }

    /**
     * Schema versions to leave out: those listed by another jar's `schemas`
     * command (lines "name type apiKey lo-hi class"), matched by name or, for
     * API messages, by api key and direction (names change between releases);
     * with stableOnly also the latest version of a schema marked
     * latestVersionUnstable. Lets an older release check only the versions
     * the newer one no longer has and that were a released wire format.
     */
    static final class Except {
        private final Map<String, short[]> ranges = new TreeMap<>();
        boolean stableOnly;

        void read(Path file) throws IOException {
            for (String line : Files.readAllLines(file)) {
                if (line.isBlank() || line.startsWith("#")) continue;
                String[] p = line.trim().split("\\s+");
                String[] r = p[3].split("-");
                short[] range = {Short.parseShort(r[0]), Short.parseShort(r[1])};
                ranges.put(p[0], range);
                if (Integer.parseInt(p[2]) >= 0) ranges.put(p[1] + "#" + p[2], range);
            }
        }

        boolean covers(Schema s, short v) {
            if (stableOnly && s.latestVersionUnstable && v == s.highestVersion()) return true;
            return in(ranges.get(s.name), v) || (s.apiKey >= 0 && in(ranges.get(s.type + "#" + s.apiKey), v));
        }

        private static boolean in(short[] r, short v) {
            return r != null && v >= r[0] && v <= r[1];
        }
    }

    static final class VerifyStats {
        int passed;
        final List<String> failures = new ArrayList<>();
        final Map<String, Set<Short>> seen = new TreeMap<>();
    }

    /**
     * Checks every line: Kafka's class must read the bytes, use all of them,
     * and write back exactly the same bytes.
     */
    static VerifyStats verify(Schemas schemas, BufferedReader in) throws IOException {
        VerifyStats st = new VerifyStats();
        String text;
        int lineNo = 0;
        while ((text = in.readLine()) != null) {
            lineNo++;
            if (text.isBlank() || text.startsWith("#")) continue;
            String[] parts = text.split(" ", -1);
            String where = "line " + lineNo;
            if (parts.length != 4) {
                st.failures.add(where + ": expected 4 space-separated fields, got " + parts.length);
                continue;
            }
            where += " " + parts[0] + " v" + parts[2];
            Schema s = schemas.byName.get(parts[0]);
            if (s == null) {
                st.failures.add(where + ": unknown schema " + parts[0]);
                continue;
            }
            short version;
            byte[] bytes;
            try {
                version = Short.parseShort(parts[2]);
                if (Integer.parseInt(parts[1]) != s.apiKey) {
                    st.failures.add(where + ": api key " + parts[1] + " but " + s.name + " has " + s.apiKey);
                    continue;
                }
                bytes = HEX.parseHex(parts[3]);
            } catch (IllegalArgumentException e) {
                st.failures.add(where + ": malformed line: " + e.getMessage());
                continue;
            }
            if (version < s.lowestVersion() || version > s.highestVersion()) {
                st.failures.add(where + ": version outside " + s.lowestVersion() + "-" + s.highestVersion());
                continue;
            }
            try {
                Message m = deserialize(s, bytes, version);
                byte[] again = serialize(m, version);
                if (!Arrays.equals(again, bytes)) {
                    st.failures.add(where + ": Kafka re-serializes differently, first difference at byte "
                            + Arrays.mismatch(again, bytes) + "\n    input:  " + abbreviate(parts[3])
                            + "\n    kafka:  " + abbreviate(HEX.formatHex(again)) + "\n    read:   " + m);
                    continue;
                }
            } catch (Exception e) {
                st.failures.add(where + ": " + describe(e) + "\n    input:  " + abbreviate(parts[3]));
                continue;
            }
            st.passed++;
            st.seen.computeIfAbsent(s.name, k -> new TreeSet<>()).add(version);
        }
        return st;
    }

    /** Schema versions the Java side supports that a verified corpus did not contain. */
    static List<String> missing(Schemas schemas, Except except, VerifyStats st) {
        List<String> out = new ArrayList<>();
        for (Schema s : schemas.byName.values()) {
            Set<Short> seen = st.seen.getOrDefault(s.name, Set.of());
            for (short v = s.lowestVersion(); v <= s.highestVersion(); v++) {
                if (!seen.contains(v) && !except.covers(s, v)) out.add(s.name + " v" + v);
            }
        }
        return out;
    }

    static void printFailures(PrintStream err, List<String> failures, int max) {
        int n = 0;
        for (String f : failures) {
            if (n++ == max) {
                err.println("... and " + (failures.size() - max) + " more");
                break;
            }
            err.println("FAIL " + f);
        }
    }

    private static String describe(Throwable e) {
        String msg = e.getClass().getSimpleName() + (e.getMessage() != null ? ": " + e.getMessage() : "");
        if (e.getCause() != null && e.getCause() != e) msg += " (caused by " + describe(e.getCause()) + ")";
        return msg;
    }

    private static String abbreviate(String hex) {
        return hex.length() <= 400 ? hex : hex.substring(0, 400) + "... (" + hex.length() / 2 + " bytes)";
    }
}
