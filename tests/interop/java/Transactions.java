// Transactions with Apache Kafka's Java client against a kwire-broker: a
// transactional producer and read_committed consumers. Launched as a
// single-file program:
//
//   java -cp <kafka classpath> [-Dclient.config=FILE] Transactions.java <bootstrap> <scenario> [args]
//
// FILE: client properties every client takes (security settings, say).
// Each scenario throws (and the program exits non-zero) when the broker does
// something a Kafka broker would not.
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class Transactions {
  static String bootstrap;
  static String groupProtocol = "classic";

  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  public static void main(String[] args) {
    try {
      bootstrap = args[0];
      switch (args[1]) {
        case "commit-abort" -> commitAbort();
        case "consume-transform-produce" -> consumeTransformProduce();
        case "consume-transform-produce-consumer-protocol" -> {
          // The same with a KIP-848 consumer: its offsets go into the
          // transaction with its member id and member epoch.
          groupProtocol = "consumer";
          consumeTransformProduce();
        }
        case "fence" -> fence();
        case "timeout" -> timeout();
        case "crash-open" -> crashOpen(Path.of(args[2]));
        case "crash-verify" -> crashVerify(Boolean.parseBoolean(args[2]), Path.of(args[3]));
        case "across-gateways" -> acrossGateways(args.length > 2 ? Path.of(args[2]) : null);
        default -> throw new IllegalArgumentException("unknown scenario " + args[1]);
      }
      System.out.println("OK " + args[1]);
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  // ---------------------------------------------------------------- clients

  /** The bootstrap servers and what -Dclient.config names. */
  static Properties base() {
    Properties p = new Properties();
    String config = System.getProperty("client.config");
    if (config != null) {
      try (var in = Files.newInputStream(Path.of(config))) {
        p.load(in);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    return p;
  }

  static Admin admin() {
    Properties p = base();
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    return Admin.create(p);
  }

  static KafkaProducer<String, String> producer(String transactionalId, Map<String, Object> extra) {
    Properties p = base();
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    if (transactionalId != null) p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
    p.putAll(extra);
    return new KafkaProducer<>(p);
  }

  static KafkaConsumer<String, String> consumer(String group, boolean committed) {
    return consumer(group, committed, Map.of());
  }

  static KafkaConsumer<String, String> consumer(String group, boolean committed, Map<String, Object> extra) {
    Properties p = base();
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, committed ? "read_committed" : "read_uncommitted");
    if (group != null) {
      p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
      p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, groupProtocol);
    }
    p.putAll(extra);
    return new KafkaConsumer<>(p);
  }

  static void createTopic(String name, int partitions) throws Exception {
    try (Admin admin = admin()) {
      admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get();
    }
  }

  static List<TopicPartition> partitions(KafkaConsumer<String, String> c, String topic) {
    List<TopicPartition> parts = new ArrayList<>();
    for (PartitionInfo pi : c.partitionsFor(topic)) parts.add(new TopicPartition(topic, pi.partition()));
    return parts;
  }

  /**
   * The values of the topic from the start as one consumer reads them: read
   * until it has reached the end offsets its isolation level reports (the
   * last stable offsets for read_committed), then once more.
   */
  static List<String> read(String topic, boolean committed) {
    List<String> out = new ArrayList<>();
    try (var c = consumer(null, committed)) {
      var parts = partitions(c, topic);
      c.assign(parts);
      c.seekToBeginning(parts);
      Map<TopicPartition, Long> end = c.endOffsets(parts);
      long deadline = System.currentTimeMillis() + 60000;
      while (System.currentTimeMillis() < deadline) {
        for (var r : c.poll(Duration.ofMillis(200))) out.add(r.value());
        boolean done = true;
        for (var tp : parts) done &= c.position(tp) >= end.get(tp);
        if (done) break;
      }
      for (var r : c.poll(Duration.ofMillis(300))) out.add(r.value());
    }
    return out;
  }

  /** End offsets for a consumer of either isolation level (ListOffsets latest). */
  static Map<TopicPartition, Long> endOffsets(String topic, boolean committed) {
    try (var c = consumer(null, committed)) {
      return c.endOffsets(partitions(c, topic));
    }
  }

  static void send(KafkaProducer<String, String> p, String topic, String prefix, int n) {
    for (int i = 0; i < n; i++) p.send(new ProducerRecord<>(topic, "k" + i, prefix + "-" + i));
  }

  static List<String> values(String prefix, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add(prefix + "-" + i);
    return out;
  }

  /** Each expected value exactly once, and nothing else. */
  static void checkExactly(List<String> got, List<String> expected, String what) {
    Map<String, Integer> counts = new HashMap<>();
    for (String v : got) counts.merge(v, 1, Integer::sum);
    for (var e : counts.entrySet())
      check(e.getValue() == 1, what + ": " + e.getKey() + " read " + e.getValue() + " times");
    check(counts.keySet().equals(new HashSet<>(expected)),
        what + ": read " + new TreeSet<>(counts.keySet()) + ", expected " + new TreeSet<>(expected));
  }

  static boolean fenced(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause())
      if (t instanceof ProducerFencedException) return true;
    return false;
  }

  /** Waits until the coordinator reports the transactional id in `state`. */
  static void awaitState(Admin admin, String id, TransactionState state) throws Exception {
    long deadline = System.currentTimeMillis() + 60000;
    TransactionState last = null;
    while (System.currentTimeMillis() < deadline) {
      last = admin.describeTransactions(List.of(id)).all().get().get(id).state();
      if (last == state) return;
      Thread.sleep(100);
    }
    throw new AssertionError(id + " is " + last + ", expected " + state);
  }

  // ---------------------------------------------------------------- scenarios

  /** Committed data once, aborted never; interleaved transactions; an open one holds read_committed back. */
  static void commitAbort() throws Exception {
    createTopic("txn", 3);
    try (var p1 = producer("tx-1", Map.of()); var p2 = producer("tx-2", Map.of())) {
      p1.initTransactions();
      p2.initTransactions();
      p1.beginTransaction();
      send(p1, "txn", "c1", 30);
      p1.commitTransaction();
      p1.beginTransaction();
      send(p1, "txn", "a1", 30);
      p1.flush();  // in the log before the abort (unsent records are dropped by the client)
      p1.abortTransaction();
      // Two transactions at once over the same partitions.
      p1.beginTransaction();
      p2.beginTransaction();
      for (int i = 0; i < 20; i++) {
        p1.send(new ProducerRecord<>("txn", i % 3, "k", "c2-" + i));
        p2.send(new ProducerRecord<>("txn", (i + 1) % 3, "k", "a2-" + i));
      }
      p1.flush();
      p2.flush();
      p2.abortTransaction();
      p1.commitTransaction();
      p2.beginTransaction();
      send(p2, "txn", "c3", 10);
      p2.commitTransaction();

      List<String> expected = new ArrayList<>(values("c1", 30));
      expected.addAll(values("c2", 20));
      expected.addAll(values("c3", 10));
      checkExactly(read("txn", true), expected, "read_committed");
      // The aborted records are in the log: read_uncommitted sees them.
      List<String> everything = new ArrayList<>(expected);
      everything.addAll(values("a1", 30));
      everything.addAll(values("a2", 20));
      checkExactly(read("txn", false), everything, "read_uncommitted");

      // An open transaction holds the last stable offset back.
      p1.beginTransaction();
      p1.send(new ProducerRecord<>("txn", 0, "k", "open-0"));
      p1.flush();
      var stable = endOffsets("txn", true);
      var high = endOffsets("txn", false);
      var p0 = new TopicPartition("txn", 0);
      check(stable.get(p0) < high.get(p0), "last stable " + stable + " with an open transaction, high " + high);
      check(!read("txn", true).contains("open-0"), "read_committed read an open transaction's record");
      try (Admin admin = admin()) {
        var d = admin.describeTransactions(List.of("tx-1")).all().get().get("tx-1");
        check(d.state() == TransactionState.ONGOING, "DescribeTransactions: " + d);
        check(d.topicPartitions().contains(p0), "DescribeTransactions partitions: " + d.topicPartitions());
        var listed = admin.listTransactions().all().get();
        check(listed.stream().anyMatch(t -> t.transactionalId().equals("tx-1") && t.state() == TransactionState.ONGOING),
            "ListTransactions: " + listed);
        // The pattern filter (KIP-1152): an RE2/J expression matching whole ids.
        var matched = admin.listTransactions(new ListTransactionsOptions().filterOnTransactionalIdPattern("(?i)TX-[1]"))
            .all().get();
        check(matched.size() == 1 && matched.iterator().next().transactionalId().equals("tx-1"),
            "ListTransactions matching (?i)TX-[1]: " + matched);
        check(admin.listTransactions(new ListTransactionsOptions().filterOnTransactionalIdPattern("tx")).all().get().isEmpty(),
            "ListTransactions matching part of an id");
        try {
          admin.listTransactions(new ListTransactionsOptions().filterOnTransactionalIdPattern("(tx)-\\1")).all().get();
          check(false, "a backreference, which RE2/J refuses, was accepted");
        } catch (ExecutionException e) {
          check(e.getCause() instanceof org.apache.kafka.common.errors.InvalidRegularExpression,
              "a pattern RE2/J refuses: " + e.getCause());
        }
        var producers = admin.describeProducers(List.of(p0)).partitionResult(p0).get().activeProducers();
        check(producers.stream().anyMatch(s -> s.currentTransactionStartOffset().isPresent()),
            "DescribeProducers shows no open transaction: " + producers);
      }
      p1.commitTransaction();
      check(endOffsets("txn", true).equals(endOffsets("txn", false)), "last stable offsets after the commit");
      expected.add("open-0");
      checkExactly(read("txn", true), expected, "read_committed after the last commit");
    }
    // A hanging transaction ended by a tool: Admin.abortTransaction has the
    // partition write the abort marker itself (WriteTxnMarkers).
    try (var hanging = producer("tx-hang", Map.of()); Admin admin = admin()) {
      hanging.initTransactions();
      hanging.beginTransaction();
      hanging.send(new ProducerRecord<>("txn", 1, "k", "hang-0"));
      hanging.flush();
      var tp = new TopicPartition("txn", 1);
      check(!endOffsets("txn", true).equals(endOffsets("txn", false)), "the hanging transaction holds nothing back");
      var open = admin.describeProducers(List.of(tp)).partitionResult(tp).get().activeProducers().stream()
          .filter(s -> s.currentTransactionStartOffset().isPresent()).findFirst().orElseThrow();
      admin.abortTransaction(new AbortTransactionSpec(tp, open.producerId(), (short) open.producerEpoch(),
          open.coordinatorEpoch().orElse(0))).all().get();
      check(endOffsets("txn", true).equals(endOffsets("txn", false)), "last stable offsets after abortTransaction");
      List<String> expected = new ArrayList<>(values("c1", 30));
      expected.addAll(values("c2", 20));
      expected.addAll(values("c3", 10));
      expected.add("open-0");
      checkExactly(read("txn", true), expected, "read_committed after abortTransaction");
    }
  }

  /** Records moved from one topic to another with the offsets committed in the same transactions. */
  static void consumeTransformProduce() throws Exception {
    createTopic("ctp-in", 2);
    createTopic("ctp-out", 2);
    int total = 200;
    try (var plain = new KafkaProducer<String, String>(Map.of(
        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
        ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
        ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName()))) {
      send(plain, "ctp-in", "in", total);
      plain.flush();
    }
    int moved = 0;
    boolean abortedOnce = false;
    try (var c = consumer("ctp", true); var p = producer("ctp-worker", Map.of())) {
      p.initTransactions();
      c.subscribe(List.of("ctp-in"));
      long deadline = System.currentTimeMillis() + 90000;
      while (moved < total && System.currentTimeMillis() < deadline) {
        var records = c.poll(Duration.ofMillis(200));
        if (records.isEmpty()) continue;
        p.beginTransaction();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (var r : records) {
          p.send(new ProducerRecord<>("ctp-out", r.key(), "out-" + r.value().substring(3)));
          offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
        }
        p.sendOffsetsToTransaction(offsets, c.groupMetadata());
        if (!abortedOnce) {
          // The first round is aborted: its output is never read and its
          // offsets are not committed, so the records are moved again.
          abortedOnce = true;
          p.abortTransaction();
          for (var tp : c.assignment()) {
            var committed = c.committed(Set.of(tp)).get(tp);
            c.seek(tp, committed == null ? 0 : committed.offset());
          }
          continue;
        }
        p.commitTransaction();
        moved += records.count();
      }
    }
    check(moved == total, "moved " + moved + " of " + total);
    List<String> expected = values("out", total);
    checkExactly(read("ctp-out", true), expected, "ctp-out read_committed");
    try (Admin admin = admin()) {
      var offs = admin.listConsumerGroupOffsets("ctp").partitionsToOffsetAndMetadata().get();
      long sum = offs.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
      check(sum == total, "committed offsets: " + offs);
    }
  }

  /**
   * Two gateways on one namespace: the transaction's coordinator is not the
   * group's, and the output's partitions are led by both, so markers, the
   * verification of the first write to each partition and the offsets all
   * cross between gateways. With `handoff`, halfway through the program
   * writes the coordinator's node id there and waits for the file
   * `handoff.done`: the script stops that gateway, and the other takes its
   * transactional ids and partitions over before the rest goes on.
   */
  static void acrossGateways(Path handoff) throws Exception {
    createTopic("xg-in", 4);
    createTopic("xg-out", 4);
    int total = 400;
    try (var plain = producer(null, Map.of())) {
      send(plain, "xg-in", "in", total);
      plain.flush();
    }
    int moved = 0, transactions = 0;
    boolean abortedOnce = false, handedOff = handoff == null;
    // Small polls: many transactions, and a hand-off between two of them.
    try (Admin admin = admin(); var c = consumer("xg-group", true, Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 40))) {
      var leaders = new HashSet<Integer>();
      for (var pi : admin.describeTopics(List.of("xg-out")).allTopicNames().get().get("xg-out").partitions())
        leaders.add(pi.leader().id());
      check(leaders.size() == 2, "xg-out's partitions are led by " + leaders + ", not by both gateways");
      c.subscribe(List.of("xg-in"));
      long joinBy = System.currentTimeMillis() + 60000;
      while (c.assignment().isEmpty() && System.currentTimeMillis() < joinBy) c.poll(Duration.ofMillis(100));
      int groupCoordinator = admin.describeConsumerGroups(List.of("xg-group")).all().get().get("xg-group")
          .coordinator().id();
      // A transactional id the other gateway coordinates.
      KafkaProducer<String, String> p = null;
      String id = null;
      int txnCoordinator = -1;
      for (int i = 0; i < 32 && p == null; i++) {
        var candidate = producer("xg-worker-" + i, Map.of());
        candidate.initTransactions();
        int at = admin.describeTransactions(List.of("xg-worker-" + i)).all().get().get("xg-worker-" + i)
            .coordinatorId();
        if (at != groupCoordinator) {
          p = candidate;
          id = "xg-worker-" + i;
          txnCoordinator = at;
        } else {
          candidate.close();
        }
      }
      check(p != null, "every transactional id tried is coordinated with the group");
      System.out.println(id + " coordinated by " + txnCoordinator + ", group by " + groupCoordinator
          + ", xg-out led by " + leaders);
      try (var worker = p) {
        long deadline = System.currentTimeMillis() + 120000;
        while (moved < total && System.currentTimeMillis() < deadline) {
          var records = c.poll(Duration.ofMillis(200));
          if (records.isEmpty()) continue;
          worker.beginTransaction();
          Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
          for (var r : records) {
            worker.send(new ProducerRecord<>("xg-out", r.key(), "out-" + r.value().substring(3)));
            offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
          }
          worker.sendOffsetsToTransaction(offsets, c.groupMetadata());
          if (!abortedOnce) {
            // Aborted: its records and offsets are dropped on both gateways.
            abortedOnce = true;
            worker.abortTransaction();
            for (var tp : c.assignment()) {
              var committed = c.committed(Set.of(tp)).get(tp);
              c.seek(tp, committed == null ? 0 : committed.offset());
            }
            continue;
          }
          worker.commitTransaction();
          transactions++;
          moved += records.count();
          if (!handedOff && moved >= total / 2) {
            Files.writeString(handoff, Integer.toString(txnCoordinator));
            Path done = Path.of(handoff + ".done");
            while (!Files.exists(done) && System.currentTimeMillis() < deadline) Thread.sleep(100);
            check(Files.exists(done), "the script did not hand the coordinator's ids over");
            handedOff = true;
          }
        }
      }
      if (handoff != null) {
        int now = admin.describeTransactions(List.of(id)).all().get().get(id).coordinatorId();
        check(now != txnCoordinator, id + " is still coordinated by " + now + " after the hand-off");
      }
    }
    check(moved == total, "moved " + moved + " of " + total + " in " + transactions + " transactions");
    checkExactly(read("xg-out", true), values("out", total), "xg-out read_committed");
    try (Admin admin = admin()) {
      var offs = admin.listConsumerGroupOffsets("xg-group").partitionsToOffsetAndMetadata().get();
      long sum = offs.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
      check(sum == total, "committed offsets: " + offs);
    }
  }

  /** A second producer with the same transactional id fences the first. */
  static void fence() throws Exception {
    createTopic("fence", 2);
    try (var zombie = producer("fence-id", Map.of()); var fresh = producer("fence-id", Map.of())) {
      zombie.initTransactions();
      zombie.beginTransaction();
      send(zombie, "fence", "zombie", 10);
      zombie.flush();
      fresh.initTransactions();  // aborts the zombie's transaction
      try {
        zombie.commitTransaction();
        check(false, "the fenced producer committed");
      } catch (Exception e) {
        check(fenced(e), "expected ProducerFencedException, got " + e);
      }
      fresh.beginTransaction();
      send(fresh, "fence", "fresh", 10);
      fresh.commitTransaction();
    }
    checkExactly(read("fence", true), values("fresh", 10), "read_committed after fencing");
    check(endOffsets("fence", true).equals(endOffsets("fence", false)), "last stable offsets after fencing");
  }

  /** A transaction left open past transaction.timeout.ms is aborted by the coordinator. */
  static void timeout() throws Exception {
    createTopic("slow", 1);
    try (var p = producer("slow-id", Map.of(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 2000));
         Admin admin = admin()) {
      p.initTransactions();
      p.beginTransaction();
      send(p, "slow", "late", 5);
      p.flush();
      awaitState(admin, "slow-id", TransactionState.COMPLETE_ABORT);
      try {
        p.commitTransaction();
        check(false, "a timed-out transaction committed");
      } catch (Exception e) {
        System.out.println("commit after the timeout failed as expected: " + e);
      }
    }
    checkExactly(read("slow", true), List.of(), "read_committed after the timeout");
    checkExactly(read("slow", false), values("late", 5), "read_uncommitted after the timeout");
    check(endOffsets("slow", true).equals(endOffsets("slow", false)), "last stable offset after the timeout");
    // A longer timeout than the broker allows is refused.
    try (var p = producer("too-long", Map.of(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 3_600_000))) {
      p.initTransactions();
      check(false, "a transaction timeout above transaction.max.timeout.ms was accepted");
    } catch (Exception e) {
      // The client reports INVALID_TRANSACTION_TIMEOUT with that error's
      // description, as an InvalidTxnTimeoutException or wrapped in a
      // KafkaException.
      boolean invalid = false;
      for (Throwable t = e; t != null; t = t.getCause()) {
        invalid |= t instanceof org.apache.kafka.common.errors.InvalidTxnTimeoutException;
        invalid |= t.getMessage() != null
            && t.getMessage().contains(org.apache.kafka.common.protocol.Errors.INVALID_TRANSACTION_TIMEOUT.message());
      }
      check(invalid, "expected INVALID_TRANSACTION_TIMEOUT, got " + e);
    }
  }

  /**
   * The log end offsets of the topic are at or past those kept in `file`
   * (by the run before a crash), which then keeps the current ones: a crash
   * never takes an offset back.
   */
  static void checkEndsNotBehind(String topic, Path file) throws Exception {
    Map<TopicPartition, Long> now = endOffsets(topic, false);
    if (Files.exists(file)) {
      for (String line : Files.readAllLines(file)) {
        String[] f = line.split(" ");
        long before = Long.parseLong(f[1]);
        Long after = now.get(new TopicPartition(topic, Integer.parseInt(f[0])));
        check(after != null && after >= before, topic + "-" + f[0] + ": log end offset " + after + " after the crash, "
            + before + " before it");
      }
    }
    StringBuilder out = new StringBuilder();
    for (var e : now.entrySet()) out.append(e.getKey().partition()).append(' ').append(e.getValue()).append('\n');
    Files.writeString(file, out);
  }

  /**
   * Before a broker crash: a committed transaction, then one left open (the
   * program exits without ending it). `ends` keeps the log end offsets.
   */
  static void crashOpen(Path ends) throws Exception {
    createTopic("crash-txn", 2);
    var p = producer("crash-id", Map.of(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 600000));
    p.initTransactions();
    p.beginTransaction();
    send(p, "crash-txn", "before", 20);
    p.commitTransaction();
    p.beginTransaction();
    send(p, "crash-txn", "open", 20);
    p.flush();
    check(!endOffsets("crash-txn", true).equals(endOffsets("crash-txn", false)), "the open transaction is stable");
    checkEndsNotBehind("crash-txn", ends);
    // No commit, no abort, no close: the broker is killed next.
  }

  /**
   * After the restart: the open transaction is still open (never half
   * visible); a new producer for the id aborts it and commits its own. With
   * `reopened`, after one more restart: the same, from disk. The log end
   * offsets are never behind those `ends` kept before the crash.
   */
  static void crashVerify(boolean reopened, Path ends) throws Exception {
    checkEndsNotBehind("crash-txn", ends);
    List<String> expected = new ArrayList<>(values("before", 20));
    if (!reopened) {
      checkExactly(read("crash-txn", true), expected, "read_committed with the transaction open after the crash");
      check(!endOffsets("crash-txn", true).equals(endOffsets("crash-txn", false)),
          "the transaction open at the crash is stable after the restart");
      try (var p = producer("crash-id", Map.of())) {
        p.initTransactions();
        p.beginTransaction();
        send(p, "crash-txn", "after", 20);
        p.commitTransaction();
      }
    }
    expected.addAll(values("after", 20));
    checkExactly(read("crash-txn", true), expected, "read_committed");
    List<String> everything = new ArrayList<>(expected);
    everything.addAll(values("open", 20));
    checkExactly(read("crash-txn", false), everything, "read_uncommitted");
    check(endOffsets("crash-txn", true).equals(endOffsets("crash-txn", false)), "last stable offsets");
    checkEndsNotBehind("crash-txn", ends);
  }
}
