// A static member of the consumer group protocol (KIP-848) restarted as a
// classic static member with Apache Kafka's Java KafkaConsumer against a
// kwire-broker:
//
//   java -cp <kafka classpath> StaticDowngrade.java <bootstrap>
//
// A classic consumer and a static consumer-protocol consumer (instance
// "instance-1") share a group. The static one closes (leaving with epoch -2)
// and comes back with group.protocol=classic under the same instance id: it
// was the last member of the consumer protocol, so the group goes back to a
// classic group, and, as in Kafka 4, without a rebalance: the returning
// member gets the partitions it had, and the other member is neither asked
// to give up nor handed anything (its rebalance listener stays silent).
import java.time.Duration;
import java.util.*;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.serialization.StringDeserializer;

public class StaticDowngrade {
  static final String TOPIC = "static-downgrade";
  static final String GROUP = "g-static-downgrade";
  static String bootstrap;

  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  public static void main(String[] args) {
    try {
      bootstrap = args[0];
      run();
      System.out.println("OK static downgrade");
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  static KafkaConsumer<String, String> consumer(String protocol, String instance) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, GROUP);
    if (instance != null) p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instance);
    if (protocol.equals("classic")) {
      p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
      p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
    }
    return new KafkaConsumer<>(p);
  }

  /** Counts what a member's rebalance listener is told. */
  static final class Listener implements ConsumerRebalanceListener {
    final AtomicInteger revoked = new AtomicInteger(), assigned = new AtomicInteger();

    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      if (!partitions.isEmpty()) revoked.incrementAndGet();
    }

    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      if (!partitions.isEmpty()) assigned.incrementAndGet();
    }
  }

  /** Polls every consumer in turn until `done` holds or the time is up. */
  static void pollUntil(List<KafkaConsumer<String, String>> consumers, java.util.function.BooleanSupplier done,
                        long ms, String what) {
    long deadline = System.currentTimeMillis() + ms;
    while (!done.getAsBoolean()) {
      check(System.currentTimeMillis() < deadline, "timed out waiting for " + what);
      for (var c : consumers) c.poll(Duration.ofMillis(100));
    }
  }

  static void run() throws Exception {
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(ap)) {
      admin.createTopics(List.of(new NewTopic(TOPIC, 4, (short) 1))).all().get();
    }
    var classicListener = new Listener();
    try (var classic = consumer("classic", null)) {
      classic.subscribe(List.of(TOPIC), classicListener);
      pollUntil(List.of(classic), () -> classic.assignment().size() == 4, 30000, "the classic member's 4 partitions");

      Set<TopicPartition> staticPartitions;
      try (var first = consumer("consumer", "instance-1")) {
        first.subscribe(List.of(TOPIC));
        pollUntil(List.of(classic, first),
                  () -> classic.assignment().size() == 2 && first.assignment().size() == 2, 60000,
                  "two partitions each in the mixed group");
        staticPartitions = new HashSet<>(first.assignment());
      }
      // The group settles with the static member away (its place kept).
      for (int i = 0; i < 10; i++) classic.poll(Duration.ofMillis(100));
      final int revokedBefore = classicListener.revoked.get(), assignedBefore = classicListener.assigned.get();

      try (var back = consumer("classic", "instance-1")) {
        back.subscribe(List.of(TOPIC));
        pollUntil(List.of(classic, back), () -> !back.assignment().isEmpty(), 30000,
                  "the returning static member's assignment");
        check(back.assignment().equals(staticPartitions),
              "the returning member got " + back.assignment() + ", its predecessor had " + staticPartitions);
        // Several heartbeat intervals: a rebalance would reach the other member.
        long until = System.currentTimeMillis() + 3000;
        while (System.currentTimeMillis() < until) {
          classic.poll(Duration.ofMillis(100));
          back.poll(Duration.ofMillis(100));
        }
        check(classicListener.revoked.get() == revokedBefore && classicListener.assigned.get() == assignedBefore,
              "the other member was rebalanced: revoked " + (classicListener.revoked.get() - revokedBefore)
                  + " time(s), assigned " + (classicListener.assigned.get() - assignedBefore) + " time(s)");
        check(classic.assignment().size() == 2 && back.assignment().equals(staticPartitions),
              "assignments moved: " + classic.assignment() + " and " + back.assignment());
      }
    }
  }
}
