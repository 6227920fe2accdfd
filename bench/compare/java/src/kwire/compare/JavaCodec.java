package kwire.compare;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.JoinGroupResponseData;
import org.apache.kafka.common.message.MetadataResponseData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.protocol.Readable;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;

/** Decoding and encoding one row's bytes with Kafka's classes, as a client or broker does. */
abstract class JavaCodec {
    abstract Object decode(ByteBuffer in);

    /** Encodes into `reuse` when it is large enough; returns the buffer written (flipped). */
    abstract ByteBuffer encode(Object value, ByteBuffer reuse);

    static JavaCodec forRow(String message, short version) {
        switch (message) {
            case "ProduceRequest": return new Msg(version, ProduceRequestData::new);
            case "FetchResponse": return new Msg(version, FetchResponseData::new);
            case "MetadataResponse": return new Msg(version, MetadataResponseData::new);
            case "OffsetCommitRequest": return new Msg(version, OffsetCommitRequestData::new);
            case "JoinGroupResponse": return new Msg(version, JoinGroupResponseData::new);
            case "ApiVersionsResponse": return new Msg(version, ApiVersionsResponseData::new);
            case "RecordBatch": return new Batch();
            default: throw new IllegalArgumentException(message);
        }
    }

    static ByteBuffer room(ByteBuffer reuse, int size) {
        if (reuse != null && reuse.capacity() >= size) {
            reuse.clear();
            reuse.limit(size);
            return reuse;
        }
        return ByteBuffer.allocate(size);
    }

    static final class Msg extends JavaCodec {
        final short version;
        final BiFunction<Readable, Short, ApiMessage> ctor;

        Msg(short version, BiFunction<Readable, Short, ApiMessage> ctor) {
            this.version = version;
            this.ctor = ctor;
        }

        @Override
        Object decode(ByteBuffer in) {
            return ctor.apply(new ByteBufferAccessor(in.duplicate()), version);
        }

        @Override
        ByteBuffer encode(Object value, ByteBuffer reuse) {
            ApiMessage m = (ApiMessage) value;
            ObjectSerializationCache cache = new ObjectSerializationCache();
            int size = m.size(cache, version);
            ByteBuffer out = room(reuse, size);
            m.write(new ByteBufferAccessor(out), cache, version);
            out.flip();
            return out;
        }
    }

    /** The records of one batch, with the batch header fields needed to write it again. */
    static final class DecodedBatch {
        final RecordBatch header;
        final List<Record> records;

        DecodedBatch(RecordBatch header, List<Record> records) {
            this.header = header;
            this.records = records;
        }
    }

    static final class Batch extends JavaCodec {
        @Override
        Object decode(ByteBuffer in) {
            MemoryRecords mr = MemoryRecords.readableRecords(in.duplicate());
            DecodedBatch out = null;
            for (MutableRecordBatch b : mr.batches()) {
                b.ensureValid();  // CRC-32C and size checks
                List<Record> records = new ArrayList<>();
                for (Record r : b) records.add(r);
                out = new DecodedBatch(b, records);
            }
            return out;
        }

        @Override
        ByteBuffer encode(Object value, ByteBuffer reuse) {
            DecodedBatch d = (DecodedBatch) value;
            RecordBatch h = d.header;
            ByteBuffer buf = reuse != null ? reuse : ByteBuffer.allocate(1 << 20);
            buf.clear();
            MemoryRecordsBuilder b = new MemoryRecordsBuilder(buf, h.magic(), Compression.NONE, h.timestampType(),
                    h.baseOffset(), RecordBatch.NO_TIMESTAMP, h.producerId(), h.producerEpoch(), h.baseSequence(),
                    h.isTransactional(), h.isControlBatch(), h.partitionLeaderEpoch(), buf.capacity());
            for (Record r : d.records) b.appendWithOffset(r.offset(), r.timestamp(), r.key(), r.value(), r.headers());
            return b.build().buffer();
        }
    }
}
