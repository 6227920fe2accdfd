// Apache Kafka's Java KafkaConsumer with the consumer group protocol
// (KIP-848, group.protocol=consumer) against a kwire-broker:
//
//   java -cp <kafka classpath> ConsumerProtocol.java <bootstrap> members|regex
//   java -cp <kafka classpath> ConsumerProtocol.java <bootstrap> victim <group> <topic> <out file>
//
// `members`: three members share a topic; one is killed (its own JVM, killed
// without leaving: its session must time out), one leaves, one joins; every
// record is consumed exactly once across the rebalances, and a new member
// resumes from the committed offsets. `regex`: a subscription by pattern
// picks up a topic created after it. `victim` is the member that gets killed.
// The broker runs with short consumer sessions (consumer_protocol.sh).
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ConsumerProtocol {
  static String bootstrap;

  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  public static void main(String[] args) {
    try {
      bootstrap = args[0];
      switch (args[1]) {
        case "members" -> members();
        case "regex" -> regex();
        case "victim" -> victim(args[2], args[3], Path.of(args[4]));
        default -> throw new IllegalArgumentException("unknown scenario " + args[1]);
      }
      System.out.println("OK " + args[1]);
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

  static void produce(String topic, String prefix, int count) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    try (var producer = new KafkaProducer<String, String>(p)) {
      for (int i = 0; i < count; i++) producer.send(new ProducerRecord<>(topic, prefix + i, "v" + i));
      producer.flush();
    }
  }

  /** A consumer of the new protocol that commits by hand. */
  static KafkaConsumer<String, String> consumer(String group, int maxPollRecords) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, String.valueOf(maxPollRecords));
    return new KafkaConsumer<>(p);
  }

  /** Commits what it processed before it lets partitions go. */
  static ConsumerRebalanceListener commitOnRevoke(KafkaConsumer<String, String> c) {
    return new ConsumerRebalanceListener() {
      public void onPartitionsRevoked(Collection<TopicPartition> parts) { c.commitSync(); }
      public void onPartitionsAssigned(Collection<TopicPartition> parts) {}
    };
  }

  // ------------------------------------------------------------ members

  static final String TOPIC = "kip848";
  static final String GROUP = "g848";
  static final int TOTAL = 3000;

  /**
   * One member in a thread: polls a few records at a time, commits after
   * each batch, and stops when `done` says so or after `quota` records (then
   * it leaves the group by closing).
   */
  static Callable<List<String>> member(int quota, AtomicBoolean done, CountDownLatch joined) {
    return () -> {
      List<String> mine = new ArrayList<>();
      try (var c = consumer(GROUP, 10)) {
        c.subscribe(List.of(TOPIC), commitOnRevoke(c));
        long deadline = System.currentTimeMillis() + 150000;
        while (!done.get() && System.currentTimeMillis() < deadline) {
          var recs = c.poll(Duration.ofMillis(100));
          if (!c.assignment().isEmpty()) joined.countDown();
          for (var r : recs) mine.add(r.key());
          c.commitSync();
          if (mine.size() >= quota) break;
          if (recs.count() > 0) Thread.sleep(60);  // slow enough that the group changes under load
        }
      }
      return mine;
    };
  }

  static void members() throws Exception {
    try (Admin admin = admin()) {
      admin.createTopics(List.of(new NewTopic(TOPIC, 6, (short) 1))).all().get();
    }
    produce(TOPIC, "k-", TOTAL);
    Path victimOut = Files.createTempFile("kip848-victim", ".txt");
    AtomicBoolean done = new AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(3);
    CountDownLatch aJoined = new CountDownLatch(1), bJoined = new CountDownLatch(1), dJoined = new CountDownLatch(1);
    Future<List<String>> a = pool.submit(member(Integer.MAX_VALUE, done, aJoined));
    Future<List<String>> b = pool.submit(member(300, done, bJoined));  // leaves after 300 records

    // The victim: its own JVM, killed once it has committed what it read.
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String self = System.getenv("CONSUMER_PROTOCOL_SOURCE");  // this file (consumer_protocol.sh)
    Process victim = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), self, bootstrap, "victim",
        GROUP, TOPIC, victimOut.toString()).inheritIO().start();
    long deadline = System.currentTimeMillis() + 90000;
    while (!Files.readString(victimOut).contains("DONE") && System.currentTimeMillis() < deadline) {
      check(victim.isAlive() || Files.readString(victimOut).contains("DONE"), "the victim member exited early");
      Thread.sleep(100);
    }
    check(Files.readString(victimOut).contains("DONE"), "the victim member never got partitions");
    victim.destroyForcibly().waitFor();  // SIGKILL: no LeaveGroup, its session has to time out

    List<String> bKeys = b.get(120, TimeUnit.SECONDS);  // b has left
    check(bKeys.size() >= 300, "the leaving member read " + bKeys.size());
    Future<List<String>> d = pool.submit(member(Integer.MAX_VALUE, done, dJoined));
    check(dJoined.await(60, TimeUnit.SECONDS), "the member that joined late got no partitions");

    List<String> victimKeys = new ArrayList<>();
    for (String line : Files.readAllLines(victimOut)) if (!line.equals("DONE")) victimKeys.add(line);
    // Run until every record was seen once, then a little longer to catch repeats.
    Set<String> seen = ConcurrentHashMap.newKeySet();
    long end = System.currentTimeMillis() + 120000;
    while (System.currentTimeMillis() < end) {
      Thread.sleep(500);
      if (a.isDone() || d.isDone()) break;
      // Members report only when they finish: stop them once the topic's end
      // is committed for the group.
      try (Admin admin = admin()) {
        var offs = admin.listConsumerGroupOffsets(GROUP).partitionsToOffsetAndMetadata().get();
        long committed = offs.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
        if (committed >= TOTAL) break;
      }
    }
    Thread.sleep(1500);
    done.set(true);
    List<String> aKeys = a.get(60, TimeUnit.SECONDS), dKeys = d.get(60, TimeUnit.SECONDS);
    List<String> all = new ArrayList<>();
    all.addAll(aKeys);
    all.addAll(bKeys);
    all.addAll(dKeys);
    all.addAll(victimKeys);
    pool.shutdown();
    check(!victimKeys.isEmpty(), "the victim read nothing");
    Map<String, Integer> counts = new HashMap<>();
    for (String k : all) counts.merge(k, 1, Integer::sum);
    for (var e : counts.entrySet()) check(e.getValue() == 1, e.getKey() + " consumed " + e.getValue() + " times");
    check(counts.size() == TOTAL, "distinct records consumed: " + counts.size() + " of " + TOTAL);
    check(!dKeys.isEmpty(), "the member that joined late read nothing");
    System.out.printf("consumed: a=%d b=%d d=%d victim=%d%n", aKeys.size(), bKeys.size(), dKeys.size(), victimKeys.size());

    // A new member resumes from the committed offsets.
    produce(TOPIC, "late-", 60);
    try (var c = consumer(GROUP, 500)) {
      c.subscribe(List.of(TOPIC));
      List<String> got = new ArrayList<>();
      long until = System.currentTimeMillis() + 30000;
      while (got.size() < 60 && System.currentTimeMillis() < until) c.poll(Duration.ofMillis(200)).forEach(r -> got.add(r.key()));
      c.poll(Duration.ofMillis(500)).forEach(r -> got.add(r.key()));
      check(got.size() == 60, "the resumed member read " + got.size() + " records");
      check(got.stream().allMatch(k -> k.startsWith("late-")), "the resumed member re-read old records");
      c.commitSync();
      // The admin client describes the group with ConsumerGroupDescribe.
      try (Admin admin = admin()) {
        var g = admin.describeConsumerGroups(List.of(GROUP)).all().get().get(GROUP);
        check(g.type() == GroupType.CONSUMER, "group type " + g.type());
        check(g.groupState() == GroupState.STABLE, "group state " + g.groupState());
        check(g.members().size() == 1, "members: " + g.members());
        var member = g.members().iterator().next();
        check(member.assignment().topicPartitions().size() == 6, "assignment " + member.assignment());
        check(g.partitionAssignor().equals("uniform"), "assignor " + g.partitionAssignor());
        var listed = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get();
        check(listed.stream().anyMatch(l -> l.groupId().equals(GROUP) && l.type().orElse(null) == GroupType.CONSUMER),
            "ListGroups: " + listed);
      }
    }
  }

  static void victim(String group, String topic, Path out) throws Exception {
    try (var c = consumer(group, 10)) {
      c.subscribe(List.of(topic), commitOnRevoke(c));
      List<String> mine = new ArrayList<>();
      long deadline = System.currentTimeMillis() + 60000;
      while (mine.size() < 100 && System.currentTimeMillis() < deadline) {
        var recs = c.poll(Duration.ofMillis(100));
        List<String> batch = new ArrayList<>();
        for (var r : recs) batch.add(r.key());
        c.commitSync();
        mine.addAll(batch);
        if (!batch.isEmpty()) Files.write(out, batch, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
      }
      Files.writeString(out, "DONE\n", StandardOpenOption.APPEND);
      Thread.sleep(Long.MAX_VALUE);  // keeps its partitions, heartbeats, until killed
    }
  }

  // ------------------------------------------------------------ regex

  static void regex() throws Exception {
    try (Admin admin = admin()) {
      admin.createTopics(List.of(new NewTopic("rx-one", 2, (short) 1), new NewTopic("other", 1, (short) 1))).all().get();
    }
    produce("rx-one", "one-", 20);
    produce("other", "other-", 5);
    try (var c = consumer("g-regex", 100)) {
      c.subscribe(new SubscriptionPattern("rx-.*"));
      Set<String> got = new HashSet<>();
      long deadline = System.currentTimeMillis() + 30000;
      while (got.size() < 20 && System.currentTimeMillis() < deadline) c.poll(Duration.ofMillis(200)).forEach(r -> got.add(r.key()));
      check(got.size() == 20, "read " + got.size() + " of rx-one's 20 records");
      // A topic created now, matching the pattern, joins the subscription.
      try (Admin admin = admin()) {
        admin.createTopics(List.of(new NewTopic("rx-two", 3, (short) 1))).all().get();
      }
      produce("rx-two", "two-", 30);
      deadline = System.currentTimeMillis() + 30000;
      while (got.size() < 50 && System.currentTimeMillis() < deadline) c.poll(Duration.ofMillis(200)).forEach(r -> got.add(r.key()));
      check(got.size() == 50, "read " + got.size() + " of 50 records: " + got.stream().filter(k -> k.startsWith("two-")).count() + " of rx-two's");
      check(got.stream().noneMatch(k -> k.startsWith("other-")), "read a topic the pattern does not match");
      Set<String> topics = new TreeSet<>();
      for (TopicPartition tp : c.assignment()) topics.add(tp.topic());
      check(topics.equals(Set.of("rx-one", "rx-two")), "assigned topics " + topics);
    }
  }
}
