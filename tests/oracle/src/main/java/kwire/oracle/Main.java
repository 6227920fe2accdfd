package kwire.oracle;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * kwire's byte oracle over Apache Kafka's own message classes.
 *
 * <pre>
 * generate [--seed N] [--per-version N] [--only Name,Name] [--except-versions-of LIST] [--stable-only]
 *          [--out FILE]
 *     random messages of every schema and version, serialized by Kafka
 * verify [--require-all] [--except-versions-of LIST] [--stable-only] FILE...
 *     Kafka must read each line's bytes whole and write them back unchanged;
 *     with --require-all every schema version must occur in the input
 * --except-versions-of LIST leaves out the schema versions that a `schemas`
 * listing of another release names (to check with 3.9.1 only what 4.x
 * removed); --stable-only leaves out versions marked latestVersionUnstable.
 * schemas
 *     the schemas found in the jar, their versions and classes
 * errors
 *     Kafka's error codes as JSON (see ErrorCodes)
 * </pre>
 * Exit status: 0 when everything checked passed, 1 on failures, 2 on misuse.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) usage();
        String cmd = args[0];
        List<String> rest = new ArrayList<>(List.of(args).subList(1, args.length));
        switch (cmd) {
            case "generate": System.exit(generate(rest)); break;
            case "verify": System.exit(verify(rest)); break;
            case "schemas": System.exit(schemas()); break;
            case "errors": ErrorCodes.main(rest.toArray(new String[0])); break;
            default: usage();
        }
    }

    private static void usage() {
        System.err.println("usage: kwire-oracle generate [--seed N] [--per-version N] [--only A,B]"
                + " [--except-versions-of LIST] [--stable-only] [--out FILE]\n"
                + "       kwire-oracle verify [--require-all] [--except-versions-of LIST] [--stable-only] FILE...   (- reads standard input)\n"
                + "       kwire-oracle schemas | errors");
        System.exit(2);
    }

    private static String take(List<String> args, int i) {
        if (i + 1 >= args.size()) usage();
        return args.remove(i + 1);
    }

    private static int generate(List<String> args) throws Exception {
        long seed = 1;
        int perVersion = 20;
        Set<String> only = null;
        Corpus.Except except = new Corpus.Except();
        Path out = null;
        for (int i = 0; i < args.size(); i++) {
            switch (args.get(i)) {
                case "--seed": seed = Long.parseLong(take(args, i)); break;
                case "--per-version": perVersion = Integer.parseInt(take(args, i)); break;
                case "--only": only = new HashSet<>(List.of(take(args, i).split(","))); break;
                case "--out": out = Path.of(take(args, i)); break;
                case "--except-versions-of": except.read(Path.of(take(args, i))); break;
                case "--stable-only": except.stableOnly = true; break;
                default: usage();
            }
        }
        Schemas schemas = Schemas.load();
        if (only != null) {
            for (String n : only) {
                if (!schemas.byName.containsKey(n)) {
                    System.err.println("unknown schema " + n);
                    return 2;
                }
            }
        }
        Corpus.GenerateStats st;
        try (Writer w = out == null
                ? new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8))
                : Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            w.write("# kwire oracle corpus: Apache Kafka " + Compat.kafkaVersion() + ", seed " + seed
                    + ", " + perVersion + " per version; line: schemaName apiKey version hex\n");
            st = Corpus.generate(schemas, only, except, seed, perVersion, w);
        }
        Corpus.printFailures(System.err, st.failures, 50);
        System.err.printf("generated %d samples (%d bytes) of %d schemas in %d schema versions; %d failed%n",
                st.samples, st.bytes, st.schemas, st.versions, st.failures.size());
        return st.failures.isEmpty() && st.samples > 0 ? 0 : 1;
    }

    private static int verify(List<String> args) throws Exception {
        boolean requireAll = false;
        Corpus.Except except = new Corpus.Except();
        List<String> files = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--require-all")) requireAll = true;
            else if (a.equals("--except-versions-of")) except.read(Path.of(take(args, i)));
            else if (a.equals("--stable-only")) except.stableOnly = true;
            else files.add(a);
        }
        if (files.isEmpty()) usage();
        Schemas schemas = Schemas.load();
        int passed = 0;
        List<String> failures = new ArrayList<>();
        Corpus.VerifyStats all = new Corpus.VerifyStats();
        for (String f : files) {
            try (BufferedReader r = f.equals("-")
                    ? new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
                    : Files.newBufferedReader(Path.of(f), StandardCharsets.UTF_8)) {
                Corpus.VerifyStats st = Corpus.verify(schemas, r);
                passed += st.passed;
                for (String x : st.failures) failures.add(f + ": " + x);
                st.seen.forEach((k, v) -> all.seen.computeIfAbsent(k, x -> new java.util.TreeSet<>()).addAll(v));
            }
        }
        Corpus.printFailures(System.err, failures, 100);
        int failed = failures.size();
        if (requireAll) {
            List<String> missing = Corpus.missing(schemas, except, all);
            if (!missing.isEmpty()) {
                System.err.println("FAIL the input lacks " + missing.size() + " schema versions: "
                        + String.join(", ", missing.subList(0, Math.min(60, missing.size())))
                        + (missing.size() > 60 ? ", ..." : ""));
                failed++;
            }
        }
        if (passed == 0 && failed == 0) {
            System.err.println("FAIL no messages in the input");
            failed++;
        }
        System.out.println("oracle verify: " + passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }

    private static int schemas() throws Exception {
        Schemas schemas = Schemas.load();
        System.out.println("# " + Schemas.listResources().size() + " JSON schemas under " + Schemas.RESOURCE_DIR
                + " in the jar of Apache Kafka " + Compat.kafkaVersion());
        for (Schemas.Schema s : schemas.byName.values()) {
            System.out.printf("%s %s %d %d-%d %s%n", s.name, s.type, s.apiKey, s.lowestVersion(), s.highestVersion(),
                    s.messageClass.getName());
        }
        for (String n : schemas.withoutClass) System.out.println("# no class for " + n);
        return 0;
    }
}
