// Kafka's Java client against kwire-broker with ACLs (tests/interop/acl.sh),
// over SASL_PLAINTEXT with PLAIN. Launched as a single-file program:
//
//   java -cp <kafka classpath> AclClients.java <bootstrap> <step>...
//
// Each step is user,password,mode[,args...] (one JVM runs them all, in order):
//
//   produce TOPIC N             N records must be acknowledged
//   consume TOPIC GROUP N       N records must be read through the group, committed
//   topic-denied TOPIC          a consumer assigned to TOPIC gets TopicAuthorizationException
//   sees TOPIC                  listTopics() shows TOPIC
//   hidden TOPIC                listTopics() does not show TOPIC
//   produce-denied TOPIC        a send to TOPIC fails with TopicAuthorizationException
//   group-denied TOPIC GROUP    a consumer subscribing in GROUP gets GroupAuthorizationException
//   refused MIN_MS              the login fails with SaslAuthenticationException, no sooner than MIN_MS
//
// Exits non-zero at the first step whose outcome is not the one asked for.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class AclClients {
  static Properties auth;

  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  public static void main(String[] args) {
    try {
      for (int i = 1; i < args.length; i++) step(args[0], args[i].split(","));
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  static void step(String bootstrap, String[] s) throws Exception {
    auth = new Properties();
    auth.put("bootstrap.servers", bootstrap);
    auth.put("security.protocol", "SASL_PLAINTEXT");
    auth.put("sasl.mechanism", "PLAIN");
    auth.put("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
        + s[0] + "\" password=\"" + s[1] + "\";");
    auth.put("default.api.timeout.ms", "20000");
    auth.put("request.timeout.ms", "10000");
    String[] rest = Arrays.copyOfRange(s, 3, s.length);
    switch (s[2]) {
      case "produce" -> produce(rest[0], Integer.parseInt(rest[1]));
      case "consume" -> consume(rest[0], rest[1], Integer.parseInt(rest[2]));
      case "topic-denied" -> topicDenied(rest[0]);
      case "sees" -> check(topics().contains(rest[0]), "listTopics() lacks " + rest[0]);
      case "hidden" -> check(!topics().contains(rest[0]), "listTopics() shows " + rest[0]);
      case "produce-denied" -> produceDenied(rest[0]);
      case "group-denied" -> groupDenied(rest[0], rest[1]);
      case "refused" -> refused(Long.parseLong(rest[0]));
      default -> throw new IllegalArgumentException("unknown mode " + s[2]);
    }
    System.out.println("OK " + s[0] + " " + s[2] + " " + String.join(" ", rest));
  }

  static Properties producerProps() {
    Properties p = new Properties();
    p.putAll(auth);
    p.put("key.serializer", StringSerializer.class.getName());
    p.put("value.serializer", StringSerializer.class.getName());
    p.put("max.block.ms", "20000");
    p.put("delivery.timeout.ms", "20000");
    return p;
  }

  static Properties consumerProps(String group) {
    Properties p = new Properties();
    p.putAll(auth);
    p.put("key.deserializer", StringDeserializer.class.getName());
    p.put("value.deserializer", StringDeserializer.class.getName());
    if (group != null) p.put("group.id", group);
    p.put("auto.offset.reset", "earliest");
    p.put("enable.auto.commit", "false");
    return p;
  }

  static Set<String> topics() throws Exception {
    try (Admin admin = Admin.create(auth)) {
      return admin.listTopics().names().get();
    }
  }

  static void produce(String topic, int n) throws Exception {
    try (Producer<String, String> producer = new KafkaProducer<>(producerProps())) {
      for (int i = 0; i < n; i++) producer.send(new ProducerRecord<>(topic, "k" + i, "value-" + i)).get();
    }
  }

  static void consume(String topic, String group, int n) throws Exception {
    Map<String, String> got = new HashMap<>();
    try (Consumer<String, String> consumer = new KafkaConsumer<>(consumerProps(group))) {
      consumer.subscribe(List.of(topic));
      long deadline = System.currentTimeMillis() + 60_000;
      while (got.size() < n && System.currentTimeMillis() < deadline)
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) got.put(r.key(), r.value());
      consumer.commitSync();
    }
    check(got.size() == n, "consumed " + got.size() + " of " + n);
  }

  static void topicDenied(String topic) throws Exception {
    try (Consumer<String, String> consumer = new KafkaConsumer<>(consumerProps(null))) {
      consumer.assign(List.of(new TopicPartition(topic, 0)));
      long deadline = System.currentTimeMillis() + 30_000;
      try {
        while (System.currentTimeMillis() < deadline) consumer.poll(Duration.ofMillis(500));
        throw new AssertionError("no TopicAuthorizationException for " + topic);
      } catch (TopicAuthorizationException e) {
        check(e.unauthorizedTopics().contains(topic), "unauthorized topics " + e.unauthorizedTopics());
        System.out.println("refused: " + e.getMessage());
      }
    }
  }

  static void produceDenied(String topic) throws Exception {
    Properties p = producerProps();
    // Not idempotent: without WRITE anywhere an idempotent producer is
    // refused its producer id (ClusterAuthorizationException) before it sends.
    p.put("enable.idempotence", "false");
    try (Producer<String, String> producer = new KafkaProducer<>(p)) {
      producer.send(new ProducerRecord<>(topic, "k", "v")).get();
      throw new AssertionError("the send to " + topic + " was acknowledged");
    } catch (ExecutionException e) {
      check(e.getCause() instanceof TopicAuthorizationException, "refused with " + e.getCause());
      System.out.println("refused: " + e.getCause().getMessage());
    }
  }

  static void groupDenied(String topic, String group) throws Exception {
    try (Consumer<String, String> consumer = new KafkaConsumer<>(consumerProps(group))) {
      consumer.subscribe(List.of(topic));
      long deadline = System.currentTimeMillis() + 30_000;
      try {
        while (System.currentTimeMillis() < deadline) consumer.poll(Duration.ofMillis(500));
        throw new AssertionError("no GroupAuthorizationException for " + group);
      } catch (GroupAuthorizationException e) {
        check(group.equals(e.groupId()), "group " + e.groupId());
        System.out.println("refused: " + e.getMessage());
      }
    }
  }

  static void refused(long minMs) throws Exception {
    long t0 = System.nanoTime();
    try (Admin admin = Admin.create(auth)) {
      admin.listTopics().names().get();
      throw new AssertionError("the login was not refused");
    } catch (ExecutionException e) {
      long ms = (System.nanoTime() - t0) / 1_000_000;
      check(e.getCause() instanceof SaslAuthenticationException, "refused with " + e.getCause());
      check(ms >= minMs, "refused after " + ms + " ms, before connection.failed.authentication.delay.ms");
      System.out.println("refused after " + ms + " ms: " + e.getCause().getMessage());
    }
  }
}
