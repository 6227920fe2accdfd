// Kafka's Java client over SASL_SSL with SCRAM (tests/interop/scram.sh).
// Launched as a single-file program:
//
//   java -cp <kafka classpath> ScramClients.java <bootstrap> <ca.pem> roundtrip <mechanism> <user> <password>
//   java -cp <kafka classpath> ScramClients.java <bootstrap> <ca.pem> refused <mechanism> <user> <password>
//
// roundtrip produces 500 records and reads them back through a group as
// that user; refused expects the login to fail with Kafka's
// SaslAuthenticationException. Exits non-zero otherwise.
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ScramClients {
  static Properties auth(String bootstrap, String ca, String mechanism, String user, String password) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("security.protocol", "SASL_SSL");
    p.put("ssl.truststore.type", "PEM");
    p.put("ssl.truststore.location", ca);
    p.put("sasl.mechanism", mechanism);
    p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
        + user + "\" password=\"" + password + "\";");
    return p;
  }

  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  public static void main(String[] args) {
    try {
      Properties p = auth(args[0], args[1], args[3], args[4], args[5]);
      switch (args[2]) {
        case "roundtrip" -> roundtrip(p);
        case "refused" -> refused(p);
        default -> throw new IllegalArgumentException("unknown mode " + args[2]);
      }
      System.out.println("OK " + args[2] + " " + args[4]);
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  static void roundtrip(Properties auth) throws Exception {
    String topic = "scram-" + UUID.randomUUID().toString().substring(0, 8);
    Properties pp = new Properties();
    pp.putAll(auth);
    pp.put("key.serializer", StringSerializer.class.getName());
    pp.put("value.serializer", StringSerializer.class.getName());
    pp.put("enable.idempotence", "true");
    try (Producer<String, String> producer = new KafkaProducer<>(pp)) {
      for (int i = 0; i < 500; i++) producer.send(new ProducerRecord<>(topic, "k" + i, "value-" + i)).get();
    }
    Properties cp = new Properties();
    cp.putAll(auth);
    cp.put("key.deserializer", StringDeserializer.class.getName());
    cp.put("value.deserializer", StringDeserializer.class.getName());
    cp.put("group.id", "grp-" + topic);
    cp.put("auto.offset.reset", "earliest");
    Map<String, String> got = new HashMap<>();
    try (Consumer<String, String> consumer = new KafkaConsumer<>(cp)) {
      consumer.subscribe(List.of(topic));
      long deadline = System.currentTimeMillis() + 60_000;
      while (got.size() < 500 && System.currentTimeMillis() < deadline)
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) got.put(r.key(), r.value());
      consumer.commitSync();
    }
    check(got.size() == 500, "consumed " + got.size() + " of 500");
    for (int i = 0; i < 500; i++) check(("value-" + i).equals(got.get("k" + i)), "record k" + i + " is " + got.get("k" + i));
  }

  static void refused(Properties auth) throws Exception {
    auth.put("default.api.timeout.ms", "20000");
    auth.put("request.timeout.ms", "10000");
    try (Admin admin = Admin.create(auth)) {
      admin.listTopics().names().get();
      throw new AssertionError("the login was not refused");
    } catch (ExecutionException e) {
      check(e.getCause() instanceof SaslAuthenticationException, "refused with " + e.getCause());
      System.out.println("refused: " + e.getCause().getMessage());
    }
  }
}
