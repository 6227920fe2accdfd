// Apache Kafka's Java KafkaShareConsumer (share groups, KIP-932) against a
// kwire-broker:
//
//   java -cp <kafka classpath> ShareGroups.java <bootstrap> exactly-once|redelivery|lock-expiry
//
// `exactly-once`: three share consumers on one topic, every record delivered
// and accepted exactly once. `redelivery`: released records come back with a
// higher delivery count, rejected ones never, and a record released as often
// as group.share.delivery.count.limit (3, see share_groups.sh) is not
// delivered again. `lock-expiry`: a record acquired by a consumer that never
// acknowledges it goes to another once its acquisition lock passes (the broker
// runs with a short group.share.record.lock.duration.ms).
//
// The same share consumers as a test peer beside other clients of the group's
// records (tests/pulsar/share_groups_native.sh), one JSON object per line:
//
//   ... ShareGroups.java <bootstrap> prepare <topic> <partitions> <group>
//       creates the topic; the group starts at the earliest offset
//   ... ShareGroups.java <bootstrap> produce <topic> <prefix> <n>
//       n records, key and value prefix0 ... prefix(n-1)
//   ... ShareGroups.java <bootstrap> serve <group> <topic> <consumers> <idleMs> <doneFile> [release <n>]
//       `consumers` share consumers print {"ready":true} once the group has
//       them all and every partition of the topic is assigned, then one line
//       per record they get ({"consumer","value","delivery","ack","at"}: at is
//       when poll returned it, in epoch ms), accepting each. They stop once
//       doneFile exists (the records are all produced) and nothing came for
//       idleMs. With `release <n>` they release every record instead, and
//       leave (close) as soon as n or more are released between them.
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ShareGroups {
  static String bootstrap;

  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  public static void main(String[] args) {
    try {
      bootstrap = args[0];
      switch (args[1]) {
        case "exactly-once" -> exactlyOnce();
        case "redelivery" -> redelivery();
        case "lock-expiry" -> lockExpiry();
        case "prepare" -> prepare(args[2], Integer.parseInt(args[3]), args[4]);
        case "produce" -> produce(args[2], args[3], Integer.parseInt(args[4]));
        case "serve" -> serve(args[2], args[3], Integer.parseInt(args[4]), Long.parseLong(args[5]), Path.of(args[6]),
            args.length > 8 && args[7].equals("release") ? Integer.parseInt(args[8]) : 0);
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

  /** Creates the topic and makes the group start at the earliest offset. */
  static void prepare(String topic, int partitions, String group) throws Exception {
    try (Admin admin = admin()) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
      var resource = new ConfigResource(ConfigResource.Type.GROUP, group);
      var op = new AlterConfigOp(new ConfigEntry("share.auto.offset.reset", "earliest"), AlterConfigOp.OpType.SET);
      admin.incrementalAlterConfigs(Map.of(resource, List.of(op))).all().get();
    }
  }

  static void produce(String topic, String prefix, int count) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    try (var producer = new KafkaProducer<String, String>(p)) {
      for (int i = 0; i < count; i++) producer.send(new ProducerRecord<>(topic, prefix + i, prefix + i));
      producer.flush();
    }
  }

  /** A share consumer that acknowledges each record itself. */
  static KafkaShareConsumer<String, String> consumer(String group, String topic) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put("share.acknowledgement.mode", "explicit");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
    var c = new KafkaShareConsumer<String, String>(p);
    c.subscribe(List.of(topic));
    return c;
  }

  static int deliveries(ConsumerRecord<String, String> r) {
    return r.deliveryCount().map(Short::intValue).orElse(-1);
  }

  /** Three consumers, 600 records over 3 partitions: each accepted once. */
  static void exactlyOnce() throws Exception {
    prepare("queue", 3, "sq");
    produce("queue", "job-", 600);
    ConcurrentHashMap<String, Integer> seen = new ConcurrentHashMap<>();
    List<String> duplicates = Collections.synchronizedList(new ArrayList<>());
    ExecutorService pool = Executors.newFixedThreadPool(3);
    List<Future<Integer>> workers = new ArrayList<>();
    long deadline = System.currentTimeMillis() + 120_000;
    for (int w = 0; w < 3; w++) {
      workers.add(pool.submit(() -> {
        int mine = 0;
        try (var c = consumer("sq", "queue")) {
          while (seen.size() < 600 && System.currentTimeMillis() < deadline) {
            for (var r : c.poll(Duration.ofMillis(500))) {
              if (seen.merge(r.value(), 1, Integer::sum) > 1) duplicates.add(r.value());
              c.acknowledge(r, AcknowledgeType.ACCEPT);
              mine++;
            }
            c.commitSync();
          }
        }
        return mine;
      }));
    }
    int total = 0;
    List<Integer> shares = new ArrayList<>();
    for (var f : workers) {
      int n = f.get();
      shares.add(n);
      total += n;
    }
    pool.shutdown();
    System.out.println("records per consumer: " + shares);
    check(duplicates.isEmpty(), "delivered more than once: " + duplicates);
    check(seen.size() == 600, "delivered " + seen.size() + " of 600 records");
    check(total == 600, "accepted " + total + " deliveries for 600 records");
    int busy = 0;
    for (int n : shares) if (n > 0) busy++;
    check(busy >= 2, "the records were not shared between the consumers: " + shares);
  }

  /** Polls until `want` records arrived or nothing came for a while. */
  static List<ConsumerRecord<String, String>> pollSome(KafkaShareConsumer<String, String> c, int want, int idlePolls) {
    List<ConsumerRecord<String, String>> out = new ArrayList<>();
    int idle = 0;
    while (out.size() < want && idle < idlePolls) {
      var got = c.poll(Duration.ofMillis(500));
      if (got.isEmpty()) idle++;
      for (var r : got) out.add(r);
    }
    return out;
  }

  static void redelivery() throws Exception {
    prepare("retry", 1, "sr");
    produce("retry", "r-", 10);
    try (var c = consumer("sr", "retry")) {
      var first = pollSome(c, 10, 60);
      check(first.size() == 10, "first delivery: " + first.size() + " of 10");
      for (var r : first) {
        check(deliveries(r) == 1, "first delivery count " + deliveries(r));
        c.acknowledge(r, AcknowledgeType.RELEASE);
      }
      c.commitSync();
      // Released: delivered again, counted twice; half accepted, half rejected.
      var second = pollSome(c, 10, 60);
      check(second.size() == 10, "redelivered " + second.size() + " of 10 released records");
      Set<String> rejected = new HashSet<>();
      for (var r : second) {
        check(deliveries(r) == 2, "redelivery count " + deliveries(r));
        boolean reject = Integer.parseInt(r.value().substring(2)) % 2 == 0;
        if (reject) rejected.add(r.value());
        c.acknowledge(r, reject ? AcknowledgeType.REJECT : AcknowledgeType.ACCEPT);
      }
      c.commitSync();
      // One more record, released until the delivery limit (3) archives it.
      produce("retry", "limit-", 1);
      for (int attempt = 1; attempt <= 3; attempt++) {
        var got = pollSome(c, 1, 60);
        check(got.size() == 1, "delivery " + attempt + " of the limited record: " + got.size() + " records");
        var r = got.get(0);
        check(r.value().equals("limit-0"), "a rejected or accepted record came back: " + r.value());
        check(deliveries(r) == attempt, "delivery count " + deliveries(r) + " at attempt " + attempt);
        c.acknowledge(r, AcknowledgeType.RELEASE);
        c.commitSync();
      }
      var after = pollSome(c, 1, 6);
      check(after.isEmpty(), "records came back after rejection or the delivery limit: " + after);
    }
  }

  static void lockExpiry() throws Exception {
    prepare("locks", 1, "sl");
    produce("locks", "l-", 5);
    try (var holder = consumer("sl", "locks"); var other = consumer("sl", "locks")) {
      var held = pollSome(holder, 5, 60);
      check(held.size() == 5, "the holder got " + held.size() + " of 5");
      // The holder neither acknowledges nor polls again: once the lock passes
      // the records are the other consumer's.
      var taken = pollSome(other, 5, 60);
      check(taken.size() == 5, "after the lock passed the other consumer got " + taken.size() + " of 5");
      for (var r : taken) {
        check(deliveries(r) == 2, "delivery count after the lock passed " + deliveries(r));
        other.acknowledge(r, AcknowledgeType.ACCEPT);
      }
      other.commitSync();
    }
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  /** The `serve` peer (see the top of this file); releaseFirst 0: accept all. */
  static void serve(String group, String topic, int consumers, long idleMs, Path done, int releaseFirst)
      throws Exception {
    AtomicInteger released = new AtomicInteger();
    // Polls each consumer has finished: readiness waits for one more of each
    // after the coordinator shows the assignment, so each has heard of it.
    AtomicInteger[] polls = new AtomicInteger[consumers];
    ExecutorService pool = Executors.newFixedThreadPool(consumers);
    List<Future<Integer>> workers = new ArrayList<>();
    // A bound, so that a peer the records never reach cannot outlive the test.
    long deadline = System.currentTimeMillis() + 150_000;
    for (int w = 0; w < consumers; w++) {
      int id = w;
      polls[w] = new AtomicInteger();
      workers.add(pool.submit(() -> {
        int mine = 0;
        try (var c = consumer(group, topic)) {
          long last = System.currentTimeMillis();
          long doneAt = -1;
          while (true) {
            var got = c.poll(Duration.ofMillis(500));
            long now = System.currentTimeMillis();
            for (var r : got) {
              var type = releaseFirst > 0 ? AcknowledgeType.RELEASE : AcknowledgeType.ACCEPT;
              c.acknowledge(r, type);
              if (releaseFirst > 0) released.incrementAndGet();
              System.out.println("{\"consumer\":" + id + ",\"value\":" + quote(r.value()) + ",\"delivery\":"
                  + deliveries(r) + ",\"ack\":\"" + type.name() + "\",\"at\":" + now + "}");
              mine++;
            }
            if (!got.isEmpty()) {
              c.commitSync();
              last = now;
            }
            polls[id].incrementAndGet();
            // Released enough: leave the group for good (close).
            if (releaseFirst > 0 && released.get() >= releaseFirst) break;
            if (doneAt < 0 && Files.exists(done)) doneAt = now;
            if (doneAt >= 0 && now - Math.max(last, doneAt) >= idleMs) break;
            check(now < deadline, "share consumer " + id + " still running after 150 s");
          }
        }
        return mine;
      }));
    }
    try (Admin admin = admin()) {
      int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
      long readyBy = System.currentTimeMillis() + 60_000;
      while (true) {
        var d = admin.describeShareGroups(List.of(group)).describedGroups().get(group).get();
        Set<Integer> assigned = new HashSet<>();
        for (var m : d.members())
          for (var tp : m.assignment().topicPartitions()) if (tp.topic().equals(topic)) assigned.add(tp.partition());
        // At least ours: the group may show other members of its queue too.
        if (d.members().size() >= consumers && assigned.size() == partitions) break;
        for (var f : workers) if (f.isDone()) f.get();  // a consumer that failed says why
        check(System.currentTimeMillis() < readyBy, "group " + group + " not assigned after 60 s: " + d);
        Thread.sleep(200);
      }
    }
    int[] seen = new int[consumers];
    for (int w = 0; w < consumers; w++) seen[w] = polls[w].get();
    for (int w = 0; w < consumers; w++)
      while (polls[w].get() <= seen[w] && !workers.get(w).isDone()) Thread.sleep(50);
    System.out.println("{\"ready\":true}");
    List<Integer> shares = new ArrayList<>();
    for (var f : workers) shares.add(f.get());
    pool.shutdown();
    System.err.println("records per share consumer: " + shares);
  }
}
