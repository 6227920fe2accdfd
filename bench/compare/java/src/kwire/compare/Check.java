package kwire.compare;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Decodes every row and encodes the decoded value again; prints `java ROW ok` or `java ROW MISMATCH ...`. */
public final class Check {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        List<String> rows = Files.readAllLines(dir.resolve("rows.tsv"));
        for (String line : rows) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t");
            ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(dir.resolve(f[0] + ".bin")));
            JavaCodec c = JavaCodec.forRow(f[1], Short.parseShort(f[2]));
            ByteBuffer out = c.encode(c.decode(in), null);
            System.out.println("java\t" + f[0] + "\t" + (out.equals(in) ? "ok" : "MISMATCH " + out.remaining() + " bytes vs " + in.remaining()));
        }
    }
}
