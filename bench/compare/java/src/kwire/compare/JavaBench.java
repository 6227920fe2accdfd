package kwire.compare;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Kafka's message classes on the comparison's workloads. The data directory
 * comes from the system property kwire.compare.data; the row list from the
 * `row` parameter (run.sh passes -p row=...).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class JavaBench {
    @Param({"produce_1x1000"})
    public String row;

    JavaCodec codec;
    ByteBuffer input;
    Object decoded;
    ByteBuffer out;

    @Setup
    public void setup() throws Exception {
        Path dir = Path.of(System.getProperty("kwire.compare.data"));
        for (String line : Files.readAllLines(dir.resolve("rows.tsv"))) {
            String[] f = line.split("\t");
            if (!f[0].equals(row)) continue;
            codec = JavaCodec.forRow(f[1], Short.parseShort(f[2]));
            input = ByteBuffer.wrap(Files.readAllBytes(dir.resolve(row + ".bin")));
        }
        if (codec == null) throw new IllegalArgumentException("no row " + row);
        decoded = codec.decode(input);
        out = codec.encode(decoded, null);
        out = ByteBuffer.allocate(Math.max(out.capacity(), input.remaining()) + 4096);
    }

    @Benchmark
    public Object decode() {
        return codec.decode(input);
    }

    @Benchmark
    public ByteBuffer encode() {
        return codec.encode(decoded, out);
    }
}
