package kwire.compare;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.internals.ConsumerProtocol;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.JoinGroupResponseData;
import org.apache.kafka.common.message.MetadataResponseData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.RecordBatch;

/**
 * Writes the comparison's workloads with Kafka's own message classes: every
 * codec then reads exactly these bytes. Usage: Workloads OUT_DIR. Writes one
 * ROW.bin per row (the message body, no request/response header) and rows.tsv
 * (row, message, version, description).
 */
public final class Workloads {
    static final long BASE_TIMESTAMP = 1_700_000_000_000L;

    /** A batch of `count` records with `valueSize`-byte values and keys "key-N", as a producer writes it. */
    static ByteBuffer batch(int count, int valueSize, long seed) {
        Random rnd = new Random(seed);
        ByteBuffer buf = ByteBuffer.allocate(count * (valueSize + 32) + 128);
        MemoryRecordsBuilder b = MemoryRecords.builder(buf, RecordBatch.CURRENT_MAGIC_VALUE, Compression.NONE,
                TimestampType.CREATE_TIME, 0L);
        byte[] value = new byte[valueSize];
        for (int i = 0; i < count; i++) {
            for (int j = 0; j < valueSize; j++) value[j] = (byte) ('a' + rnd.nextInt(26));
            b.append(BASE_TIMESTAMP + i, ("key-" + i).getBytes(StandardCharsets.UTF_8), value.clone());
        }
        return b.build().buffer();
    }

    /** Records of about `bytes` in one batch of 100-byte values. */
    static ByteBuffer batchOfSize(int bytes, long seed) {
        return batch(Math.max(1, bytes / 116), 100, seed);
    }

    static Uuid uuid(Random r) {
        return new Uuid(r.nextLong() | 1, r.nextLong() | 1);
    }

    static ProduceRequestData produce(int topics, int partitions, ByteBuffer[] batches) {
        Random r = new Random(1);
        ProduceRequestData d = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(30000).setTransactionalId(null);
        int k = 0;
        for (int t = 0; t < topics; t++) {
            ProduceRequestData.TopicProduceData td = new ProduceRequestData.TopicProduceData().setTopicId(uuid(r));
            for (int p = 0; p < partitions; p++) {
                td.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(p)
                        .setRecords(MemoryRecords.readableRecords(batches[k++].duplicate())));
            }
            d.topicData().add(td);
        }
        return d;
    }

    static FetchResponseData fetch(int partitions, int bytesEach) {
        Random r = new Random(2);
        FetchResponseData d = new FetchResponseData().setThrottleTimeMs(0).setErrorCode((short) 0).setSessionId(12345);
        FetchResponseData.FetchableTopicResponse t = new FetchResponseData.FetchableTopicResponse().setTopicId(uuid(r));
        for (int p = 0; p < partitions; p++) {
            t.partitions().add(new FetchResponseData.PartitionData().setPartitionIndex(p).setHighWatermark(1_000_000L + p)
                    .setLastStableOffset(1_000_000L + p).setLogStartOffset(0L).setAbortedTransactions(null)
                    .setPreferredReadReplica(-1).setRecords(MemoryRecords.readableRecords(batchOfSize(bytesEach, 100 + p))));
        }
        d.responses().add(t);
        return d;
    }

    static MetadataResponseData metadata(int topics, int partitions) {
        Random r = new Random(3);
        MetadataResponseData d = new MetadataResponseData().setThrottleTimeMs(0).setClusterId("kwire-compare-cluster")
                .setControllerId(1);
        for (int b = 0; b < 5; b++) {
            d.brokers().add(new MetadataResponseData.MetadataResponseBroker().setNodeId(b).setHost("broker-" + b + ".example.internal")
                    .setPort(9092).setRack("rack-" + (b % 3)));
        }
        for (int t = 0; t < topics; t++) {
            MetadataResponseData.MetadataResponseTopic topic = new MetadataResponseData.MetadataResponseTopic()
                    .setName(String.format("orders.events.%04d", t)).setTopicId(uuid(r)).setIsInternal(false)
                    .setTopicAuthorizedOperations(-2147483648);
            for (int p = 0; p < partitions; p++) {
                int leader = (t + p) % 5;
                List<Integer> replicas = Arrays.asList(leader, (leader + 1) % 5, (leader + 2) % 5);
                topic.partitions().add(new MetadataResponseData.MetadataResponsePartition().setPartitionIndex(p)
                        .setLeaderId(leader).setLeaderEpoch(7).setReplicaNodes(replicas).setIsrNodes(replicas)
                        .setOfflineReplicas(new ArrayList<>()));
            }
            d.topics().add(topic);
        }
        return d;
    }

    static OffsetCommitRequestData offsetCommit(int topics, int partitions) {
        OffsetCommitRequestData d = new OffsetCommitRequestData().setGroupId("payments-consumer-group")
                .setGenerationIdOrMemberEpoch(42).setMemberId("consumer-1-6f1c2b9e-54a1-4c3e-9a77-1f0d5b2c8e41")
                .setGroupInstanceId(null);
        for (int t = 0; t < topics; t++) {
            OffsetCommitRequestData.OffsetCommitRequestTopic topic = new OffsetCommitRequestData.OffsetCommitRequestTopic()
                    .setName(String.format("orders.events.%04d", t));
            for (int p = 0; p < partitions; p++) {
                topic.partitions().add(new OffsetCommitRequestData.OffsetCommitRequestPartition().setPartitionIndex(p)
                        .setCommittedOffset(123_456_789L + p).setCommittedLeaderEpoch(7).setCommittedMetadata(""));
            }
            d.topics().add(topic);
        }
        return d;
    }

    static JoinGroupResponseData joinGroup(int members) {
        List<String> topics = new ArrayList<>();
        for (int t = 0; t < 10; t++) topics.add(String.format("orders.events.%04d", t));
        JoinGroupResponseData d = new JoinGroupResponseData().setThrottleTimeMs(0).setErrorCode((short) 0)
                .setGenerationId(42).setProtocolType("consumer").setProtocolName("range").setSkipAssignment(false);
        String leader = null;
        for (int m = 0; m < members; m++) {
            String id = String.format("consumer-%03d-6f1c2b9e-54a1-4c3e-9a77-1f0d5b2c8e41", m);
            if (leader == null) leader = id;
            ByteBuffer meta = ConsumerProtocol.serializeSubscription(
                    new ConsumerPartitionAssignor.Subscription(topics, null, new ArrayList<>(), 7, java.util.Optional.of("rack-" + (m % 3))));
            byte[] bytes = new byte[meta.remaining()];
            meta.get(bytes);
            d.members().add(new JoinGroupResponseData.JoinGroupResponseMember().setMemberId(id).setGroupInstanceId(null)
                    .setMetadata(bytes));
        }
        d.setLeader(leader).setMemberId(leader);
        return d;
    }

    static ApiVersionsResponseData apiVersions() {
        ApiVersionsResponseData d = new ApiVersionsResponseData().setErrorCode((short) 0).setThrottleTimeMs(0)
                .setFinalizedFeaturesEpoch(12L).setZkMigrationReady(false);
        for (ApiKeys k : ApiKeys.values()) {
            d.apiKeys().add(new ApiVersionsResponseData.ApiVersion().setApiKey(k.id)
                    .setMinVersion(k.messageType.lowestSupportedVersion())
                    .setMaxVersion(k.messageType.highestSupportedVersion(true)));
        }
        d.supportedFeatures().add(new ApiVersionsResponseData.SupportedFeatureKey().setName("metadata.version")
                .setMinVersion((short) 7).setMaxVersion((short) 27));
        d.supportedFeatures().add(new ApiVersionsResponseData.SupportedFeatureKey().setName("kraft.version")
                .setMinVersion((short) 0).setMaxVersion((short) 1));
        d.finalizedFeatures().add(new ApiVersionsResponseData.FinalizedFeatureKey().setName("metadata.version")
                .setMinVersionLevel((short) 27).setMaxVersionLevel((short) 27));
        return d;
    }

    static byte[] encode(ApiMessage m, short version) {
        ObjectSerializationCache cache = new ObjectSerializationCache();
        int size = m.size(cache, version);
        ByteBuffer out = ByteBuffer.allocate(size);
        m.write(new ByteBufferAccessor(out), cache, version);
        return out.array();
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        StringBuilder tsv = new StringBuilder();
        ByteBuffer[] one = {batch(1000, 100, 10)};
        ByteBuffer[] hundred = new ByteBuffer[100];
        for (int i = 0; i < 100; i++) hundred[i] = batchOfSize(16 * 1024, 200 + i);
        Object[][] rows = {
            {"produce_1x1000", produce(1, 1, one), Rows.PRODUCE_VERSION,
                "ProduceRequest, 1 partition, one batch of 1000 records of 100 B"},
            {"produce_100x16k", produce(10, 10, hundred), Rows.PRODUCE_VERSION,
                "ProduceRequest, 10 topics x 10 partitions, a 16 KiB batch each"},
            {"fetch_100x64k", fetch(100, 64 * 1024), Rows.FETCH_VERSION,
                "FetchResponse, 100 partitions x 64 KiB of records"},
            {"metadata_1000x10", metadata(1000, 10), Rows.METADATA_VERSION,
                "MetadataResponse, 1000 topics x 10 partitions, 3 replicas and ISR each"},
            {"offset_commit_1000", offsetCommit(10, 100), Rows.OFFSET_COMMIT_VERSION,
                "OffsetCommitRequest, 10 topics x 100 partitions"},
            {"join_group_100", joinGroup(100), Rows.JOIN_GROUP_VERSION,
                "JoinGroupResponse, 100 members with consumer subscription metadata"},
            {"api_versions", apiVersions(), Rows.API_VERSIONS_VERSION,
                "ApiVersionsResponse, every API key of Kafka 4.4.0 and 3 feature entries"},
        };
        for (Object[] row : rows) {
            ApiMessage m = (ApiMessage) row[1];
            short v = (Short) row[2];
            byte[] bytes = encode(m, v);
            Files.write(dir.resolve(row[0] + ".bin"), bytes);
            tsv.append(row[0]).append('\t').append(m.getClass().getSimpleName().replace("Data", "")).append('\t')
                    .append(v).append('\t').append(row[3]).append('\n');
        }
        ByteBuffer records = batch(1000, 100, 11);
        byte[] rb = new byte[records.remaining()];
        records.duplicate().get(rb);
        Files.write(dir.resolve("records_1000.bin"), rb);
        tsv.append("records_1000\tRecordBatch\t2\tRecords: iterate a batch of 1000 records of 100 B, CRC checked\n");
        Files.writeString(dir.resolve("rows.tsv"), tsv.toString());
    }
}
