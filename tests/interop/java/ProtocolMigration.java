// A classic consumer group upgraded online to the consumer group protocol
// (KIP-848) and back, with Apache Kafka's Java KafkaConsumer against a
// kwire-broker:
//
//   java -cp <kafka classpath> ProtocolMigration.java <bootstrap>
//
// Three members with group.protocol=classic consume a topic while a producer
// writes continuously numbered records. They are restarted one by one with
// group.protocol=consumer (the first one upgrades the group, the others
// leave it mixed until none is classic), then one by one back with
// group.protocol=classic (the last consumer member leaving downgrades it).
// Every record is consumed; none is consumed again once a commit covered
// it; and a member started afterwards resumes from the committed offsets.
// With MIGRATION_RESTART_DIR set (protocol_migration.sh), the broker is
// restarted while the group is mixed.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ProtocolMigration {
  static final String TOPIC = "migrate";
  static final String GROUP = "g-migrate";
  static String bootstrap;

  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  public static void main(String[] args) {
    try {
      bootstrap = args[0];
      run();
      System.out.println("OK migration");
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  static Admin admin() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    return Admin.create(p);
  }

  static KafkaConsumer<String, String> consumer(String protocol) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, GROUP);
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
    if (protocol.equals("classic")) {
      p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
      p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
    }
    return new KafkaConsumer<>(p);
  }

  /** One consumption: the record's key, when it happened, whether a commit covered it. */
  static final class Consumed {
    final String key;
    final long seq;
    volatile boolean committed;
    Consumed(String key, long seq) { this.key = key; this.seq = seq; }
  }

  static final AtomicLong clock = new AtomicLong();
  static final List<Consumed> consumed = Collections.synchronizedList(new ArrayList<>());

  /**
   * A member in its own thread until stopped: it commits after every poll
   * and when partitions are revoked; what a successful commit covered is
   * marked so.
   */
  static final class Member implements Runnable {
    final String name, protocol;
    final AtomicBoolean stop = new AtomicBoolean();
    final CountDownLatch assigned = new CountDownLatch(1);
    final Map<TopicPartition, List<Consumed>> pending = new HashMap<>();
    volatile Throwable failed;
    volatile boolean exited;
    volatile int count;
    Member(String name, String protocol) { this.name = name; this.protocol = protocol; }

    void commit(KafkaConsumer<String, String> c, Collection<TopicPartition> parts) {
      try {
        c.commitSync();
        for (var tp : parts) for (var r : pending.getOrDefault(tp, List.of())) r.committed = true;
      } catch (CommitFailedException | RebalanceInProgressException e) {
        System.out.println(name + ": commit failed: " + e);
      }
      for (var tp : parts) pending.remove(tp);
    }

    public void run() {
      try (var c = consumer(protocol)) {
        c.subscribe(List.of(TOPIC), new ConsumerRebalanceListener() {
          public void onPartitionsRevoked(Collection<TopicPartition> parts) { commit(c, parts); }
          public void onPartitionsAssigned(Collection<TopicPartition> parts) {
            if (!parts.isEmpty()) assigned.countDown();
          }
          public void onPartitionsLost(Collection<TopicPartition> parts) {
            System.out.println(name + ": lost " + parts);
            for (var tp : parts) pending.remove(tp);
          }
        });
        while (!stop.get()) {
          var recs = c.poll(Duration.ofMillis(100));
          for (var r : recs) {
            var one = new Consumed(r.key(), clock.incrementAndGet());
            consumed.add(one);
            pending.computeIfAbsent(new TopicPartition(r.topic(), r.partition()), k -> new ArrayList<>()).add(one);
            count++;
          }
          if (!recs.isEmpty()) commit(c, new ArrayList<>(c.assignment()));
        }
        commit(c, new ArrayList<>(c.assignment()));
      } catch (Throwable t) {
        failed = t;
      } finally {
        exited = true;
      }
    }
  }

  static Member start(ExecutorService pool, String name, String protocol) throws Exception {
    var m = new Member(name, protocol);
    pool.submit(m);
    check(m.assigned.await(60, TimeUnit.SECONDS), name + " (" + protocol + ") got no partitions");
    System.out.println(name + " (" + protocol + ") has partitions");
    return m;
  }

  static void run() throws Exception {
    try (Admin admin = admin()) {
      admin.createTopics(List.of(new NewTopic(TOPIC, 6, (short) 1))).all().get();
    }
    // The producer: records numbered 0, 1, 2, ... until told to stop.
    AtomicBoolean producing = new AtomicBoolean(true);
    AtomicLong produced = new AtomicLong();
    Thread producer = new Thread(() -> {
      Properties p = new Properties();
      p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      p.put(ProducerConfig.ACKS_CONFIG, "all");
      try (var pr = new KafkaProducer<String, String>(p)) {
        while (producing.get()) {
          for (int i = 0; i < 20; i++) {
            long n = produced.get();
            pr.send(new ProducerRecord<>(TOPIC, "n-" + n, "v" + n)).get();
            produced.incrementAndGet();
          }
          Thread.sleep(50);
        }
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    producer.start();

    ExecutorService pool = Executors.newCachedThreadPool();
    Member[] members = new Member[3];
    for (int i = 0; i < 3; i++) members[i] = start(pool, "classic-" + i, "classic");
    Thread.sleep(2000);
    // Upgrade: one by one to the consumer protocol, then back.
    for (String protocol : List.of("consumer", "classic")) {
      for (int i = 0; i < 3; i++) {
        halt(members[i]);
        members[i] = start(pool, protocol + "-" + i, protocol);
        Thread.sleep(3000);  // the group works a while in this shape
        if (protocol.equals("consumer") && i == 0) restartBroker();
        check(!producer.getState().equals(Thread.State.TERMINATED), "the producer stopped");
      }
      try (Admin admin = admin()) {
        var listed = admin.listGroups().all().get();
        var g = listed.stream().filter(l -> l.groupId().equals(GROUP)).findFirst().orElseThrow();
        var expected = protocol.equals("consumer") ? GroupType.CONSUMER : GroupType.CLASSIC;
        check(g.type().orElse(null) == expected, "after the move to " + protocol + " the group is " + g.type());
        System.out.println("the group is " + g.type().orElse(null) + " now");
      }
    }
    producing.set(false);
    producer.join();
    final long total = produced.get();
    // Until everything produced is consumed.
    long until = System.currentTimeMillis() + 90000;
    while (System.currentTimeMillis() < until) {
      Set<String> keys = new HashSet<>();
      synchronized (consumed) {
        for (var c : consumed) keys.add(c.key);
      }
      if (keys.size() >= total) break;
      Thread.sleep(500);
    }
    for (var m : members) halt(m);
    pool.shutdown();

    // Every record consumed; none consumed again after a commit covered it.
    Map<String, List<Consumed>> byKey = new HashMap<>();
    synchronized (consumed) {
      for (var c : consumed) byKey.computeIfAbsent(c.key, k -> new ArrayList<>()).add(c);
    }
    for (long n = 0; n < total; n++) check(byKey.containsKey("n-" + n), "record n-" + n + " was never consumed");
    check(byKey.size() == total, "distinct records consumed: " + byKey.size() + " of " + total);
    int again = 0;
    for (var e : byKey.entrySet()) {
      long firstCommitted = Long.MAX_VALUE;
      for (var c : e.getValue()) if (c.committed) firstCommitted = Math.min(firstCommitted, c.seq);
      for (var c : e.getValue()) check(c.seq <= firstCommitted, e.getKey() + " consumed again after a commit covered it");
      again += e.getValue().size() - 1;
    }
    System.out.printf("produced %d records, consumed %d times (%d again, none after a commit)%n", total, consumed.size(), again);

    // A member started now resumes from the committed offsets.
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    try (var pr = new KafkaProducer<String, String>(p)) {
      for (int i = 0; i < 60; i++) pr.send(new ProducerRecord<>(TOPIC, "late-" + i, "v"));
      pr.flush();
    }
    try (var c = consumer("classic")) {
      c.subscribe(List.of(TOPIC));
      List<String> got = new ArrayList<>();
      long end = System.currentTimeMillis() + 30000;
      while (got.size() < 60 && System.currentTimeMillis() < end) c.poll(Duration.ofMillis(200)).forEach(r -> got.add(r.key()));
      c.poll(Duration.ofMillis(500)).forEach(r -> got.add(r.key()));
      check(got.size() == 60, "the resumed member read " + got.size() + " records");
      check(got.stream().allMatch(k -> k.startsWith("late-")), "the resumed member re-read old records");
    }
  }

  /**
   * With MIGRATION_RESTART_DIR set, has the script restart the broker while
   * the group is mixed (one consumer member, two classic ones), then checks
   * that the group came back so: its record keeps the classic members.
   */
  static void restartBroker() throws Exception {
    String dir = System.getenv("MIGRATION_RESTART_DIR");
    if (dir == null) return;
    java.nio.file.Files.createFile(java.nio.file.Path.of(dir, "restart"));
    long until = System.currentTimeMillis() + 90000;
    while (!java.nio.file.Files.exists(java.nio.file.Path.of(dir, "restarted")) && System.currentTimeMillis() < until)
      Thread.sleep(100);
    check(java.nio.file.Files.exists(java.nio.file.Path.of(dir, "restarted")), "the broker was not restarted");
    try (Admin admin = admin()) {
      var g = admin.describeConsumerGroups(List.of(GROUP)).all().get().get(GROUP);
      long classic = g.members().stream().filter(m -> m.upgraded().equals(Optional.of(false))).count();
      System.out.println("after the restart: " + g.members().size() + " members, " + classic + " classic");
      check(g.type() == GroupType.CONSUMER, "group type after the restart " + g.type());
      check(g.members().size() == 3 && classic == 2, "members after the restart: " + g.members());
    }
  }

  /** Stops a member (it commits and leaves) and waits for its thread to end. */
  static void halt(Member m) throws Exception {
    m.stop.set(true);
    long until = System.currentTimeMillis() + 60000;
    while (!m.exited && System.currentTimeMillis() < until) Thread.sleep(50);
    check(m.exited, m.name + " did not stop");
    check(m.failed == null, m.name + " failed: " + m.failed);
    System.out.println(m.name + " stopped after " + m.count + " records");
  }
}
