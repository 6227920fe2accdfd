package kwire.oracle;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.protocol.Message;

/**
 * Kafka's message schemas, read at run time from the JSON files that the
 * kafka-clients jar carries under common/message/, matched with the classes
 * Kafka generated from them.
 */
final class Schemas {
    static final String RESOURCE_DIR = "common/message/";
    static final String CLASS_PACKAGE = "org.apache.kafka.common.message.";

    /** A version range from a schema: "3", "1-4", "2+" or "none". */
    record Versions(int lo, int hi) {
        static final Versions NONE = new Versions(0, -1);
        static final Versions ALL = new Versions(0, Short.MAX_VALUE);

        static Versions parse(String s) {
            if (s == null) return null;
            s = s.trim();
            if (s.equals("none")) return NONE;
            if (s.endsWith("+")) return new Versions(Integer.parseInt(s.substring(0, s.length() - 1)), Short.MAX_VALUE);
            int dash = s.indexOf('-');
            if (dash > 0) return new Versions(Integer.parseInt(s.substring(0, dash)), Integer.parseInt(s.substring(dash + 1)));
            int v = Integer.parseInt(s);
            return new Versions(v, v);
        }

        boolean contains(int v) {
            return v >= lo && v <= hi;
        }

        boolean isEmpty() {
            return hi < lo;
        }
    }

    /** One field of a struct. {@code fields} is non-null for inline struct types. */
    record Field(String name, String type, Versions versions, Versions nullableVersions,
                 Versions taggedVersions, Integer tag, boolean mapKey, boolean ignorable,
                 String defaultValue, List<Field> fields) {

        boolean isArray() {
            return type.startsWith("[]");
        }

        String elementType() {
            return isArray() ? type.substring(2) : type;
        }

        boolean nullableIn(int v) {
            return nullableVersions != null && nullableVersions.contains(v);
        }

        boolean taggedIn(int v) {
            return taggedVersions != null && taggedVersions.contains(v);
        }
    }

    /** One JSON schema and the Java class Kafka generated for it. */
    static final class Schema {
        final String name;
        final String type;          // request, response, header or data
        final int apiKey;           // -1 when the schema is not an API message
        final Versions validVersions;
        final Versions flexibleVersions;
        boolean latestVersionUnstable;  // for a response: its request's flag
        final List<Field> fields;
        final Map<String, List<Field>> commonStructs;
        final Class<? extends Message> messageClass;   // null when the jar has none

        Schema(String name, String type, int apiKey, Versions validVersions, Versions flexibleVersions,
               boolean latestVersionUnstable, List<Field> fields, Map<String, List<Field>> commonStructs,
               Class<? extends Message> messageClass) {
            this.name = name;
            this.type = type;
            this.apiKey = apiKey;
            this.validVersions = validVersions;
            this.flexibleVersions = flexibleVersions;
            this.latestVersionUnstable = latestVersionUnstable;
            this.fields = fields;
            this.commonStructs = commonStructs;
            this.messageClass = messageClass;
        }

        Message newInstance() {
            try {
                return messageClass.getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot instantiate " + messageClass.getName(), e);
            }
        }

        short lowestVersion() {
            return newInstance().lowestSupportedVersion();
        }

        short highestVersion() {
            return newInstance().highestSupportedVersion();
        }

        boolean flexible(int version) {
            return flexibleVersions.contains(version);
        }

        /** The fields of a struct type named in a field, inline or common. */
        List<Field> structFields(Field f) {
            if (f.fields() != null) return f.fields();
            List<Field> common = commonStructs.get(f.elementType());
            if (common == null) throw new IllegalStateException(name + ": no struct " + f.elementType());
            return common;
        }
    }

    private static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_JAVA_COMMENTS)
            .enable(JsonReadFeature.ALLOW_TRAILING_COMMA)
            .build();

    final Map<String, Schema> byName = new TreeMap<>();
    /** JSON files that have no class in the jar (APIs whose versions were all removed). */
    final List<String> withoutClass = new ArrayList<>();

    /** Loads every common/message/*.json of the jar that holds Kafka's message classes. */
    static Schemas load() throws IOException {
        Schemas s = new Schemas();
        for (String resource : listResources()) {
            try (InputStream in = ApiMessageType.class.getClassLoader().getResourceAsStream(resource)) {
                if (in == null) throw new IOException("cannot read " + resource);
                s.add(MAPPER.readTree(in));
            }
        }
        // Only request schemas carry latestVersionUnstable; the response shares it.
        Map<Integer, Boolean> unstable = new HashMap<>();
        for (Schema x : s.byName.values()) if (x.type.equals("request")) unstable.put(x.apiKey, x.latestVersionUnstable);
        for (Schema x : s.byName.values()) {
            if (x.type.equals("response")) x.latestVersionUnstable |= unstable.getOrDefault(x.apiKey, false);
        }
        return s;
    }

    /** Names of the JSON schema resources, found by listing the kafka-clients jar. */
    static List<String> listResources() throws IOException {
        Path jar;
        try {
            jar = Path.of(ApiMessageType.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
        List<String> names = new ArrayList<>();
        try (JarFile jf = new JarFile(jar.toFile())) {
            for (Enumeration<JarEntry> e = jf.entries(); e.hasMoreElements(); ) {
                String n = e.nextElement().getName();
                if (n.startsWith(RESOURCE_DIR) && n.endsWith(".json") && n.indexOf('/', RESOURCE_DIR.length()) < 0) {
                    names.add(n);
                }
            }
        }
        Collections.sort(names);
        return names;
    }

    private void add(JsonNode root) {
        String name = root.path("name").asText();
        String type = root.path("type").asText();
        int apiKey = root.has("apiKey") ? root.get("apiKey").asInt() : -1;
        Versions valid = Versions.parse(root.path("validVersions").asText("none"));
        Versions flexible = Versions.parse(root.path("flexibleVersions").asText("none"));
        List<Field> fields = parseFields(root.get("fields"));
        Map<String, List<Field>> common = new HashMap<>();
        JsonNode cs = root.get("commonStructs");
        if (cs != null) {
            for (JsonNode c : cs) common.put(c.path("name").asText(), parseFields(c.get("fields")));
        }
        Class<? extends Message> cls = findClass(name, type);
        boolean unstable = root.path("latestVersionUnstable").asBoolean(false);
        Schema schema = new Schema(name, type, apiKey, valid, flexible, unstable, fields, common, cls);
        if (cls == null) {
            withoutClass.add(name);
        } else {
            byName.put(name, schema);
        }
    }

    private static Class<? extends Message> findClass(String name, String type) {
        // API messages and headers are generated as <Name>Data; "data" schemas keep their name.
        String[] candidates = type.equals("data")
                ? new String[] {name, name + "Data"}
                : new String[] {name + "Data", name};
        for (String c : candidates) {
            try {
                return Class.forName(CLASS_PACKAGE + c).asSubclass(Message.class);
            } catch (ClassNotFoundException | ClassCastException e) {
                // try the next spelling
            }
        }
        return null;
    }

    private static List<Field> parseFields(JsonNode arr) {
        List<Field> out = new ArrayList<>();
        if (arr == null) return out;
        for (JsonNode f : arr) {
            out.add(new Field(
                    f.path("name").asText(),
                    f.path("type").asText(),
                    Versions.parse(f.path("versions").asText("0+")),
                    Versions.parse(f.has("nullableVersions") ? f.get("nullableVersions").asText() : null),
                    Versions.parse(f.has("taggedVersions") ? f.get("taggedVersions").asText() : null),
                    f.has("tag") ? f.get("tag").asInt() : null,
                    f.path("mapKey").asBoolean(false),
                    f.path("ignorable").asBoolean(false),
                    f.has("default") ? f.get("default").asText() : null,
                    f.has("fields") ? parseFields(f.get("fields")) : null));
        }
        return out;
    }
}
