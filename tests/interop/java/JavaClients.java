// Scenarios run with Apache Kafka's Java client (kafka-clients) against a
// kwire-broker. Launched as a single-file program:
//
//   java -cp <kafka classpath> JavaClients.java <bootstrap> <scenario> [args]
//
// Each scenario throws (and the program exits non-zero) when the broker does
// something a Kafka broker would not.
import java.io.BufferedWriter;
import java.io.FileWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class JavaClients {
  static String bootstrap;

  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  public static void main(String[] args) {
    try {
      run(args);
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  static void run(String[] args) throws Exception {
    bootstrap = args[0];
    switch (args[1]) {
      case "admin" -> admin();
      case "codecs" -> codecs();
      case "timestamps" -> timestamps();
      case "group" -> group();
      case "static" -> staticMembership();
      case "retention" -> retention();
      case "autocreate" -> autocreate(Boolean.parseBoolean(args[2]));
      case "crash-produce" -> crashProduce(Path.of(args[2]), Integer.parseInt(args[3]));
      case "crash-verify" -> crashVerify(Path.of(args[2]));
      default -> throw new IllegalArgumentException("unknown scenario " + args[1]);
    }
    System.out.println("OK " + args[1]);
  }

  // ---------------------------------------------------------------- clients

  static Admin admin(Properties extra) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    p.putAll(extra);
    return Admin.create(p);
  }

  static KafkaProducer<String, String> producer(Map<String, Object> extra) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.putAll(extra);
    return new KafkaProducer<>(p);
  }

  static KafkaConsumer<String, String> consumer(String group, Map<String, Object> extra) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    if (group != null) p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.putAll(extra);
    return new KafkaConsumer<>(p);
  }

  static void createTopic(Admin admin, String name, int partitions) throws Exception {
    admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
  }

  /** Reads every record of the topic from the start, without a group. */
  static List<ConsumerRecord<String, String>> readAll(String topic, int expected) {
    List<ConsumerRecord<String, String>> out = new ArrayList<>();
    try (var c = consumer(null, Map.of())) {
      List<TopicPartition> parts = new ArrayList<>();
      for (PartitionInfo pi : c.partitionsFor(topic)) parts.add(new TopicPartition(topic, pi.partition()));
      c.assign(parts);
      c.seekToBeginning(parts);
      long deadline = System.currentTimeMillis() + 60000;
      while (out.size() < expected && System.currentTimeMillis() < deadline) {
        for (var r : c.poll(Duration.ofMillis(200))) out.add(r);
      }
      // Nothing more may arrive.
      for (var r : c.poll(Duration.ofMillis(500))) out.add(r);
    }
    return out;
  }

  static String header(ConsumerRecord<String, String> r, String key) {
    Header h = r.headers().lastHeader(key);
    return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }

  // ---------------------------------------------------------------- admin

  static void admin() throws Exception {
    try (Admin admin = admin(new Properties())) {
      createTopic(admin, "adm-a", 3);
      admin.createTopics(List.of(new NewTopic("adm-b", 1, (short) 1).configs(Map.of("retention.ms", "3600000"))))
          .all().get();
      try {
        createTopic(admin, "adm-a", 3);
        check(false, "creating an existing topic must fail");
      } catch (ExecutionException e) {
        check(e.getCause() instanceof TopicExistsException, "expected TopicExistsException, got " + e.getCause());
      }
      Set<String> names = admin.listTopics().names().get();
      check(names.containsAll(Set.of("adm-a", "adm-b")), "listTopics: " + names);

      var desc = admin.describeTopics(List.of("adm-a")).allTopicNames().get().get("adm-a");
      check(desc.partitions().size() == 3, "adm-a partitions: " + desc.partitions().size());
      var cluster = admin.describeCluster();
      var nodes = cluster.nodes().get();
      check(nodes.size() == 1, "cluster nodes: " + nodes);
      check(cluster.clusterId().get() != null, "cluster id");
      for (var p : desc.partitions()) check(p.leader().id() == nodes.iterator().next().id(), "leader of " + p);

      var res = new ConfigResource(ConfigResource.Type.TOPIC, "adm-b");
      var cfg = admin.describeConfigs(List.of(res)).all().get().get(res);
      check("3600000".equals(cfg.get("retention.ms").value()), "retention.ms: " + cfg.get("retention.ms"));
      check("delete".equals(cfg.get("cleanup.policy").value()), "cleanup.policy default");
      admin.incrementalAlterConfigs(Map.of(res, List.of(
          new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
          new AlterConfigOp(new ConfigEntry("max.message.bytes", "2000000"), AlterConfigOp.OpType.SET))))
          .all().get();
      cfg = admin.describeConfigs(List.of(res)).all().get().get(res);
      check("7200000".equals(cfg.get("retention.ms").value()), "altered retention.ms: " + cfg.get("retention.ms"));
      check("2000000".equals(cfg.get("max.message.bytes").value()), "altered max.message.bytes");
      try {
        admin.incrementalAlterConfigs(Map.of(res, List.of(
            new AlterConfigOp(new ConfigEntry("no.such.config", "1"), AlterConfigOp.OpType.SET)))).all().get();
        check(false, "an unknown config must be rejected");
      } catch (ExecutionException e) {
        check(e.getCause() instanceof org.apache.kafka.common.errors.InvalidConfigurationException,
            "expected InvalidConfigurationException, got " + e.getCause());
      }

      admin.createPartitions(Map.of("adm-b", NewPartitions.increaseTo(2))).all().get();
      desc = admin.describeTopics(List.of("adm-b")).allTopicNames().get().get("adm-b");
      check(desc.partitions().size() == 2, "adm-b partitions after createPartitions: " + desc.partitions().size());

      // Groups: one consumer commits, then the group is listed, described and deleted.
      try (var p = producer(Map.of())) {
        for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>("adm-a", "k" + i, "v" + i)).get();
      }
      try (var c = consumer("adm-group", Map.of())) {
        c.subscribe(List.of("adm-a"));
        int n = 0;
        long deadline = System.currentTimeMillis() + 30000;
        while (n < 10 && System.currentTimeMillis() < deadline) n += c.poll(Duration.ofMillis(200)).count();
        check(n == 10, "adm-group consumed " + n);
        c.commitSync();
        var live = admin.describeConsumerGroups(List.of("adm-group")).all().get().get("adm-group");
        check(live.members().size() == 1, "live members: " + live.members());
        check(live.groupState() == GroupState.STABLE, "live state: " + live.groupState());
      }
      var listed = admin.listGroups().all().get();
      check(listed.stream().anyMatch(g -> g.groupId().equals("adm-group")), "listConsumerGroups: " + listed);
      var gd = admin.describeConsumerGroups(List.of("adm-group")).all().get().get("adm-group");
      check(gd.groupState() == GroupState.EMPTY, "group state after close: " + gd.groupState());
      var offsets = admin.listConsumerGroupOffsets("adm-group").partitionsToOffsetAndMetadata().get();
      long committed = offsets.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
      check(committed == 10, "committed offsets: " + offsets);
      admin.deleteConsumerGroups(List.of("adm-group")).all().get();
      listed = admin.listGroups().all().get();
      check(listed.stream().noneMatch(g -> g.groupId().equals("adm-group")), "group still listed: " + listed);

      // DeleteRecords moves the log start offset.
      createTopic(admin, "adm-c", 1);
      try (var p = producer(Map.of())) {
        for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>("adm-c", "k" + i, "v" + i)).get();
      }
      var tp = new TopicPartition("adm-c", 0);
      var low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(5))).all().get();
      var earliest = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset();
      check(earliest == 5, "earliest after deleteRecords: " + earliest);
      var rest = readAll("adm-c", 5);
      check(rest.size() == 5 && rest.get(0).offset() == 5, "records after deleteRecords: " + rest.size());

      admin.deleteTopics(List.of("adm-a", "adm-b", "adm-c")).all().get();
      names = admin.listTopics().names().get();
      check(!names.contains("adm-a") && !names.contains("adm-b"), "topics after delete: " + names);
      try {
        admin.describeTopics(List.of("adm-a")).allTopicNames().get();
        check(false, "describing a deleted topic must fail");
      } catch (ExecutionException e) {
        check(e.getCause() instanceof UnknownTopicOrPartitionException, "expected UnknownTopicOrPartition: " + e.getCause());
      }
    }
  }

  // ---------------------------------------------------------------- codecs

  static void codecs() throws Exception {
    String[] codecs = {"none", "gzip", "snappy", "lz4", "zstd"};
    int per = 2000;
    try (Admin admin = admin(new Properties())) {
      createTopic(admin, "codecs", 4);
    }
    for (String codec : codecs) {
      try (var p = producer(Map.of(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec, ProducerConfig.LINGER_MS_CONFIG, "5"))) {
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        for (int i = 0; i < per; i++) {
          var r = new ProducerRecord<>("codecs", codec + "-" + i, "value-" + codec + "-" + i);
          r.headers().add("codec", codec.getBytes(StandardCharsets.UTF_8));
          r.headers().add("seq", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
          acks.add(p.send(r));
        }
        p.flush();
        for (var f : acks) check(f.get().offset() >= 0, "acked offset");
      }
    }
    // acks=0 (no response at all) and acks=1, without idempotence.
    try (Admin admin = admin(new Properties())) {
      createTopic(admin, "acks", 2);
    }
    for (String acks : new String[] {"0", "1"}) {
      try (var p = producer(Map.of(ProducerConfig.ACKS_CONFIG, acks, ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false"))) {
        for (int i = 0; i < 500; i++) p.send(new ProducerRecord<>("acks", "acks" + acks + "-" + i, "v"));
        p.flush();
      }
    }
    var acked = readAll("acks", 1000);
    check(acked.size() == 1000, "acks=0 and acks=1 records read back: " + acked.size());
    check(acked.stream().map(ConsumerRecord::key).distinct().count() == 1000, "duplicates among acks=0/1 records");

    var all = readAll("codecs", per * codecs.length);
    check(all.size() == per * codecs.length, "read " + all.size() + " records, expected " + per * codecs.length);
    Set<String> keys = new HashSet<>();
    Map<Integer, Long> next = new HashMap<>();
    for (var r : all) {
      check(keys.add(r.key()), "duplicate record " + r.key());
      String codec = r.key().substring(0, r.key().indexOf('-'));
      check(r.value().equals("value-" + r.key()), "value of " + r.key() + ": " + r.value());
      check(codec.equals(header(r, "codec")), "codec header of " + r.key());
      check(r.key().endsWith("-" + header(r, "seq")), "seq header of " + r.key());
      long expect = next.getOrDefault(r.partition(), 0L);
      check(r.offset() == expect, "offset gap in partition " + r.partition() + ": " + r.offset() + " after " + expect);
      next.put(r.partition(), expect + 1);
    }
  }

  // ---------------------------------------------------------------- timestamps

  static void timestamps() throws Exception {
    try (Admin admin = admin(new Properties())) {
      createTopic(admin, "ts", 1);
    }
    long base = System.currentTimeMillis() - 3600_000L;
    try (var p = producer(Map.of(ProducerConfig.LINGER_MS_CONFIG, "200"))) {
      for (int i = 0; i < 30; i++) p.send(new ProducerRecord<>("ts", 0, base + i * 1000L, "k" + i, "v" + i));
      p.flush();
    }
    var tp = new TopicPartition("ts", 0);
    try (var c = consumer(null, Map.of())) {
      c.assign(List.of(tp));
      check(c.beginningOffsets(List.of(tp)).get(tp) == 0, "beginning offset");
      check(c.endOffsets(List.of(tp)).get(tp) == 30, "end offset: " + c.endOffsets(List.of(tp)).get(tp));
      var found = c.offsetsForTimes(Map.of(tp, base + 10_500L)).get(tp);
      check(found != null && found.offset() == 11, "offsetsForTimes: " + found);
      check(found.timestamp() == base + 11_000L, "timestamp found: " + found.timestamp());
      var exact = c.offsetsForTimes(Map.of(tp, base + 20_000L)).get(tp);
      check(exact != null && exact.offset() == 20, "offsetsForTimes exact: " + exact);
      var none = c.offsetsForTimes(Map.of(tp, base + 100_000L)).get(tp);
      check(none == null, "offsetsForTimes past the end: " + none);
      c.seek(tp, found.offset());
      List<ConsumerRecord<String, String>> got = new ArrayList<>();
      long deadline = System.currentTimeMillis() + 20000;
      while (got.size() < 19 && System.currentTimeMillis() < deadline) c.poll(Duration.ofMillis(200)).forEach(got::add);
      check(got.size() == 19, "records from the timestamp: " + got.size());
      check(got.get(0).key().equals("k11") && got.get(0).timestamp() == base + 11_000L, "first: " + got.get(0));
    }
    // From earliest with a group.
    try (var c = consumer("ts-group", Map.of())) {
      c.subscribe(List.of("ts"));
      int n = 0;
      long deadline = System.currentTimeMillis() + 30000;
      ConsumerRecord<String, String> first = null;
      while (n < 30 && System.currentTimeMillis() < deadline) {
        for (var r : c.poll(Duration.ofMillis(200))) {
          if (first == null) first = r;
          n++;
        }
      }
      check(n == 30 && first != null && first.offset() == 0, "earliest consumer read " + n);
    }
  }

  // ---------------------------------------------------------------- group

  static void group() throws Exception {
    int total = 3000;
    try (Admin admin = admin(new Properties())) {
      createTopic(admin, "grp", 6);
    }
    try (var p = producer(Map.of(ProducerConfig.LINGER_MS_CONFIG, "5"))) {
      for (int i = 0; i < total; i++) p.send(new ProducerRecord<>("grp", "g-" + i, "v" + i));
      p.flush();
    }
    ConcurrentHashMap<String, AtomicInteger> seen = new ConcurrentHashMap<>();
    AtomicInteger consumed = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    Map<String, Object> cfg = Map.of(
        ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "40",
        ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "300",
        ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
    ExecutorService pool = Executors.newFixedThreadPool(3);
    CountDownLatch leaverDone = new CountDownLatch(1);
    List<Future<Integer>> results = new ArrayList<>();
    for (int id = 0; id < 3; id++) {
      final boolean leaver = id == 2;
      results.add(pool.submit(() -> {
        int mine = 0;
        try (var c = consumer("g3", cfg)) {
          c.subscribe(List.of("grp"), new ConsumerRebalanceListener() {
            public void onPartitionsRevoked(Collection<TopicPartition> parts) { c.commitSync(); }
            public void onPartitionsAssigned(Collection<TopicPartition> parts) {}
          });
          long deadline = System.currentTimeMillis() + 120000;
          while (!stop.get() && System.currentTimeMillis() < deadline) {
            var recs = c.poll(Duration.ofMillis(100));
            for (var r : recs) {
              seen.computeIfAbsent(r.key(), k -> new AtomicInteger()).incrementAndGet();
              mine++;
            }
            consumed.addAndGet(recs.count());
            c.commitSync();
            if (leaver && mine >= 300) break;  // leaves the group: the others take over its partitions
            if (!leaver && consumed.get() >= total && seen.size() >= total) break;
            // Slow down so that the leaver gets its share before the others finish.
            if (!leaver && leaverDone.getCount() > 0 && recs.count() > 0) Thread.sleep(150);
          }
        } finally {
          if (leaver) leaverDone.countDown();
        }
        return mine;
      }));
    }
    int sum = 0;
    for (var f : results) sum += f.get(150, TimeUnit.SECONDS);
    stop.set(true);
    pool.shutdown();
    check(results.get(2).get() >= 300, "the leaving consumer read " + results.get(2).get());
    check(seen.size() == total, "distinct records consumed: " + seen.size() + " of " + total);
    for (var e : seen.entrySet()) check(e.getValue().get() == 1, e.getKey() + " consumed " + e.getValue() + " times");
    check(sum == total, "records consumed in all: " + sum);

    // A new member of the group resumes from the committed offsets.
    try (var p = producer(Map.of())) {
      for (int i = 0; i < 60; i++) p.send(new ProducerRecord<>("grp", "late-" + i, "v")).get();
    }
    try (var c = consumer("g3", Map.of())) {
      c.subscribe(List.of("grp"));
      List<String> got = new ArrayList<>();
      long deadline = System.currentTimeMillis() + 30000;
      while (got.size() < 60 && System.currentTimeMillis() < deadline) c.poll(Duration.ofMillis(200)).forEach(r -> got.add(r.key()));
      c.poll(Duration.ofMillis(500)).forEach(r -> got.add(r.key()));
      check(got.size() == 60, "resumed consumer read " + got.size() + " records: " + got.subList(0, Math.min(5, got.size())));
      check(got.stream().allMatch(k -> k.startsWith("late-")), "resumed consumer re-read old records");
      c.commitSync();
    }
    try (Admin admin = admin(new Properties())) {
      var d = admin.describeConsumerGroups(List.of("g3")).all().get().get("g3");
      check(d.groupState() == GroupState.EMPTY, "g3 state: " + d.groupState());
      var offs = admin.listConsumerGroupOffsets("g3").partitionsToOffsetAndMetadata().get();
      long committed = offs.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
      check(committed == total + 60, "g3 committed " + committed);
    }
  }

  // ---------------------------------------------------------------- static membership

  static int joinAndPoll(KafkaConsumer<String, String> c) {
    c.subscribe(List.of("static-t"));
    long deadline = System.currentTimeMillis() + 30000;
    while (c.assignment().isEmpty() && System.currentTimeMillis() < deadline) c.poll(Duration.ofMillis(100));
    check(!c.assignment().isEmpty(), "no assignment");
    return c.groupMetadata().generationId();
  }

  /** A static member that restarts within its session gets its generation back: no rebalance. */
  static void staticMembership() throws Exception {
    try (Admin admin = admin(new Properties())) {
      createTopic(admin, "static-t", 2);
    }
    Map<String, Object> cfg = Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "instance-1",
        ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "30000");
    int first;
    String memberBefore;
    try (var c = consumer("static-g", cfg)) {
      first = joinAndPoll(c);
      memberBefore = c.groupMetadata().memberId();
    }
    try (Admin admin = admin(new Properties())) {
      var d = admin.describeConsumerGroups(List.of("static-g")).all().get().get("static-g");
      check(d.members().size() == 1, "a static member stays after close: " + d.members());
      var m = d.members().iterator().next();
      check(m.groupInstanceId().orElse("").equals("instance-1"), "group instance id: " + m.groupInstanceId());
    }
    try (var c = consumer("static-g", cfg)) {
      int second = joinAndPoll(c);
      check(second == first, "generation after a static rejoin: " + first + " -> " + second);
      check(!c.groupMetadata().memberId().equals(memberBefore), "the rejoined member got a new member id");
    }
    // A second static member makes the group rebalance.
    try (var a = consumer("static-g", cfg);
         var b = consumer("static-g", Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "instance-2",
             ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "30000"))) {
      a.subscribe(List.of("static-t"));
      b.subscribe(List.of("static-t"));
      long deadline = System.currentTimeMillis() + 60000;
      while ((a.assignment().size() != 1 || b.assignment().size() != 1) && System.currentTimeMillis() < deadline) {
        a.poll(Duration.ofMillis(50));
        b.poll(Duration.ofMillis(50));
      }
      check(a.assignment().size() == 1 && b.assignment().size() == 1,
          "two static members share the partitions: " + a.assignment() + " " + b.assignment());
      check(a.groupMetadata().generationId() > first, "generation after a new member: " + a.groupMetadata().generationId());
    }
  }

  // ---------------------------------------------------------------- retention

  /** retention.bytes drops whole old ledgers; readers start at the new log start. */
  static void retention() throws Exception {
    try (Admin admin = admin(new Properties())) {
      admin.createTopics(List.of(new NewTopic("ret", 1, (short) 1).configs(Map.of(
          "segment.bytes", "4000", "retention.bytes", "8000")))).all().get();
      try (var p = producer(Map.of())) {
        for (int i = 0; i < 300; i++) p.send(new ProducerRecord<>("ret", "k" + i, "x".repeat(100))).get();
      }
      var tp = new TopicPartition("ret", 0);
      // Retention runs in the background while the records arrive: wait until
      // it has dropped something and the log start offset stays put.
      long earliest = 0, previous = -1;
      long deadline = System.currentTimeMillis() + 60000;
      while ((earliest == 0 || earliest != previous) && System.currentTimeMillis() < deadline) {
        previous = earliest;
        Thread.sleep(600);  // longer than the broker's housekeeping period
        earliest = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset();
      }
      long latest = admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset();
      check(latest == 300, "latest offset: " + latest);
      check(earliest > 0 && earliest < 300, "earliest offset after retention: " + earliest);
      var rest = readAll("ret", (int) (300 - earliest));
      check(rest.size() == 300 - earliest && rest.get(0).offset() == earliest,
          "read " + rest.size() + " records from " + (rest.isEmpty() ? -1 : rest.get(0).offset()) + ", earliest " + earliest);
      // Roughly retention.bytes stays: at least that much, less than that plus two ledgers.
      long kept = 300 - earliest;
      check(kept * 100 >= 8000 / 2 && kept * 100 < 8000 + 3 * 4000, "records kept: " + kept);
    }
  }

  // ---------------------------------------------------------------- auto-creation

  /** Metadata for an unknown topic creates it exactly when the broker allows it. */
  static void autocreate(boolean enabled) throws Exception {
    try (var c = consumer(null, Map.of(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000"))) {
      List<PartitionInfo> parts;
      try {
        parts = c.partitionsFor("auto-topic");
      } catch (org.apache.kafka.common.errors.TimeoutException e) {
        parts = List.of();
      }
      check(enabled == (parts != null && !parts.isEmpty()), "partitionsFor with auto-creation " + enabled + ": " + parts);
    }
    try (Admin admin = admin(new Properties())) {
      boolean listed = admin.listTopics().names().get().contains("auto-topic");
      check(listed == enabled, "auto-topic listed: " + listed);
      if (enabled) {
        var d = admin.describeTopics(List.of("auto-topic")).allTopicNames().get().get("auto-topic");
        check(d.partitions().size() == 3, "num.partitions of an auto-created topic: " + d.partitions().size());
      }
    }
  }

  // ---------------------------------------------------------------- crash

  /** Streams records with acks=all, appending each acknowledged key to `acked`. */
  static void crashProduce(Path acked, int count) throws Exception {
    try (Admin admin = admin(new Properties())) {
      createTopic(admin, "crash", 3);
    }
    // A committed offset that must survive the crash.
    try (var c = consumer("crash-group", Map.of())) {
      c.commitSync(Map.of(new TopicPartition("crash", 1), new OffsetAndMetadata(42, "before the crash")));
    }
    Files.writeString(acked, "");
    try (var out = new BufferedWriter(new FileWriter(acked.toFile(), true));
         var p = producer(Map.of(ProducerConfig.LINGER_MS_CONFIG, "2",
             ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "120000",
             ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000",
             ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "200"))) {
      Semaphore inflight = new Semaphore(200);
      AtomicInteger failed = new AtomicInteger();
      for (int i = 0; i < count && failed.get() == 0; i++) {
        inflight.acquire();
        String key = "c-" + i;
        p.send(new ProducerRecord<>("crash", key, "value-" + i), (md, ex) -> {
          inflight.release();
          if (ex != null) {
            failed.incrementAndGet();
            return;
          }
          synchronized (out) {
            try {
              out.write(key);
              out.write('\n');
              out.flush();
            } catch (Exception e) {
              throw new RuntimeException(e);
            }
          }
        });
      }
      p.flush();
      check(failed.get() == 0, failed.get() + " sends failed");
    }
  }

  /** Every acknowledged record is in the log exactly once; the committed offset is kept. */
  static void crashVerify(Path acked) throws Exception {
    List<String> keys = Files.readAllLines(acked);
    var all = readAll("crash", keys.size());
    Map<String, Integer> counts = new HashMap<>();
    for (var r : all) counts.merge(r.key(), 1, Integer::sum);
    for (var e : counts.entrySet()) check(e.getValue() == 1, e.getKey() + " is in the log " + e.getValue() + " times");
    for (String k : keys) check(counts.containsKey(k), "acknowledged record " + k + " is missing");
    try (Admin admin = admin(new Properties())) {
      var offs = admin.listConsumerGroupOffsets("crash-group").partitionsToOffsetAndMetadata().get();
      var o = offs.get(new TopicPartition("crash", 1));
      check(o != null && o.offset() == 42 && "before the crash".equals(o.metadata()), "committed offset: " + o);
    }
    System.out.println("verified " + keys.size() + " acknowledged records among " + all.size());
  }
}
