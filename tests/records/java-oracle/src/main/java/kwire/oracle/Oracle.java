package kwire.oracle;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.CompressionType;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.utils.internals.ByteBufferOutputStream;

/**
 * Reads test cases written by the C++ side, builds each with Kafka's own
 * MemoryRecordsBuilder / MemoryRecords, and writes the bytes back. It also
 * reads the batches kwire built for the same cases and checks that Kafka's
 * reader accepts them (CRC, decompression) and sees the same records.
 *
 * Usage: Oracle CASES OUT_JAVA KWIRE_BUILT
 */
public final class Oracle {
    static final int KIND_BATCH = 0, KIND_END_TXN = 1, KIND_LEGACY = 2;

    static final class Rec {
        long timestamp;
        byte[] key, value;
        Header[] headers;
    }

    static final class Case {
        int id, kind;
        byte magic, compression, timestampType;
        long baseOffset, logAppendTime, producerId;
        short producerEpoch;
        int baseSequence;
        boolean transactional, control;
        int partitionLeaderEpoch;
        long deleteHorizon;
        short controlType;
        int coordinatorEpoch;
        List<Rec> records = new ArrayList<>();
    }

    static byte[] readBytes(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0) return null;
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    static List<Case> readCases(String path) throws IOException {
        List<Case> cases = new ArrayList<>();
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(path)))) {
            int count = in.readInt();
            for (int i = 0; i < count; i++) {
                Case c = new Case();
                c.id = in.readInt();
                c.kind = in.readByte();
                c.magic = in.readByte();
                c.compression = in.readByte();
                c.timestampType = in.readByte();
                c.baseOffset = in.readLong();
                c.logAppendTime = in.readLong();
                c.producerId = in.readLong();
                c.producerEpoch = in.readShort();
                c.baseSequence = in.readInt();
                c.transactional = in.readByte() != 0;
                c.control = in.readByte() != 0;
                c.partitionLeaderEpoch = in.readInt();
                c.deleteHorizon = in.readLong();
                c.controlType = in.readShort();
                c.coordinatorEpoch = in.readInt();
                int n = in.readInt();
                for (int r = 0; r < n; r++) {
                    Rec rec = new Rec();
                    rec.timestamp = in.readLong();
                    rec.key = readBytes(in);
                    rec.value = readBytes(in);
                    int h = in.readInt();
                    rec.headers = new Header[h];
                    for (int j = 0; j < h; j++) {
                        byte[] k = readBytes(in);
                        rec.headers[j] = new RecordHeader(new String(k, java.nio.charset.StandardCharsets.UTF_8), readBytes(in));
                    }
                    c.records.add(rec);
                }
                cases.add(c);
            }
        }
        return cases;
    }

    static TimestampType timestampType(Case c) {
        if (c.magic == 0) return TimestampType.NO_TIMESTAMP_TYPE;
        return c.timestampType == 1 ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME;
    }

    static byte[] build(Case c) {
        Compression compression = Compression.of(CompressionType.forId(c.compression)).build();
        if (c.kind == KIND_END_TXN) {
            EndTransactionMarker marker = new EndTransactionMarker(ControlRecordType.fromTypeId(c.controlType), c.coordinatorEpoch);
            MemoryRecords mr = MemoryRecords.withEndTransactionMarker(c.baseOffset, c.records.get(0).timestamp,
                    c.partitionLeaderEpoch, c.producerId, c.producerEpoch, marker);
            return toArray(mr.buffer());
        }
        ByteBufferOutputStream out = new ByteBufferOutputStream(ByteBuffer.allocate(1024));
        MemoryRecordsBuilder b = new MemoryRecordsBuilder(out, c.magic, compression, timestampType(c), c.baseOffset,
                c.logAppendTime, c.producerId, c.producerEpoch, c.baseSequence, c.transactional, c.control,
                c.partitionLeaderEpoch, Integer.MAX_VALUE, c.deleteHorizon);
        for (Rec r : c.records) {
            if (c.kind == KIND_LEGACY)
                b.append(r.timestamp, r.key, r.value);
            else
                b.append(r.timestamp, r.key, r.value, r.headers);
        }
        return toArray(b.build().buffer());
    }

    static byte[] toArray(ByteBuffer buf) {
        ByteBuffer d = buf.duplicate();
        byte[] b = new byte[d.remaining()];
        d.get(b);
        return b;
    }

    static byte[] bytesOf(ByteBuffer b) {
        return b == null ? null : toArray(b);
    }

    /** Checks that Kafka reads kwire's bytes for a case as the case's records. Returns an error or null. */
    static String verifyOurs(Case c, byte[] ours) {
        MemoryRecords mr = MemoryRecords.readableRecords(ByteBuffer.wrap(ours));
        int index = 0;
        long expectedOffset = c.baseOffset;
        for (RecordBatch batch : mr.batches()) {
            try {
                batch.ensureValid();
            } catch (RuntimeException e) {
                return "batch rejected: " + e;
            }
            if (batch.magic() != c.magic) return "magic " + batch.magic();
            if (batch.compressionType().id != c.compression) return "compression " + batch.compressionType();
            if (c.magic == 2) {
                if (batch.producerId() != c.producerId) return "producerId";
                if (batch.producerEpoch() != c.producerEpoch) return "producerEpoch";
                if (batch.baseSequence() != c.baseSequence) return "baseSequence";
                if (batch.isTransactional() != c.transactional) return "transactional";
                if (batch.isControlBatch() != (c.control || c.kind == KIND_END_TXN)) return "control";
                if (batch.partitionLeaderEpoch() != c.partitionLeaderEpoch) return "partitionLeaderEpoch";
            }
            Iterator<Record> it = batch.iterator();
            while (it.hasNext()) {
                Record r = it.next();
                try {
                    r.ensureValid();
                } catch (RuntimeException e) {
                    return "record rejected: " + e;
                }
                if (index >= c.records.size()) return "more records than appended";
                Rec want = c.records.get(index);
                if (r.offset() != expectedOffset) return "offset " + r.offset() + " != " + expectedOffset;
                if (c.kind == KIND_END_TXN) {
                    EndTransactionMarker m = EndTransactionMarker.deserialize(r);
                    if (m.coordinatorEpoch() != c.coordinatorEpoch || m.controlType().type() != c.controlType)
                        return "marker";
                } else {
                    if (!Arrays.equals(bytesOf(r.key()), want.key)) return "key of record " + index;
                    if (!Arrays.equals(bytesOf(r.value()), want.value)) return "value of record " + index;
                    long ts = c.magic == 0 ? RecordBatch.NO_TIMESTAMP
                            : c.timestampType == 1 ? c.logAppendTime : want.timestamp;
                    if (r.timestamp() != ts) return "timestamp of record " + index + ": " + r.timestamp() + " != " + ts;
                    if (c.magic == 2) {
                        Header[] hs = r.headers();
                        if (hs.length != want.headers.length) return "header count of record " + index;
                        for (int j = 0; j < hs.length; j++) {
                            if (!hs[j].key().equals(want.headers[j].key())) return "header key";
                            if (!Arrays.equals(hs[j].value(), want.headers[j].value())) return "header value";
                        }
                    }
                }
                index++;
                expectedOffset++;
            }
        }
        if (index != c.records.size()) return "read " + index + " records of " + c.records.size();
        return null;
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: Oracle CASES OUT_JAVA KWIRE_BUILT");
            System.exit(2);
        }
        List<Case> cases = readCases(args[0]);
        Map<Integer, byte[]> ours = new HashMap<>();
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(args[2])))) {
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                int id = in.readInt();
                ours.put(id, readBytes(in));
            }
        }
        int failures = 0;
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(args[1])))) {
            out.writeInt(cases.size());
            for (Case c : cases) {
                byte[] built = build(c);
                out.writeInt(c.id);
                out.writeInt(built.length);
                out.write(built);
                byte[] mine = ours.get(c.id);
                String problem = mine == null ? "kwire built nothing" : verifyOurs(c, mine);
                if (problem != null) {
                    failures++;
                    System.out.println("case " + c.id + ": Kafka's reader disagrees with kwire's batch: " + problem);
                }
            }
        }
        System.out.println("java oracle: built " + cases.size() + " cases; Kafka read kwire's batches: "
                + (cases.size() - failures) + " passed, " + failures + " failed");
        System.exit(failures == 0 ? 0 : 1);
    }
}
