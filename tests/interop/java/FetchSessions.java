// Apache Kafka's Java consumer fetches in incremental fetch sessions (KIP-227)
// by default; this checks that it does so against kwire-broker, and that
// records arrive whole while sessions carry only what changed. Launched as a
// single-file program:
//
//   java -cp <kafka classpath> FetchSessions.java <bootstrap> <metrics url>
//
// Records are produced while the consumer polls, with half the partitions
// paused (the session forgets them) and resumed (it adds them again): every
// record must arrive once and in offset order, a fetch session must be cached
// meanwhile (kwire_fetch_sessions) and the broker must have answered
// incremental fetches (kwire_incremental_fetches_total). A broker that
// refused sessions fails here.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class FetchSessions {
  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  /** The value of a Prometheus metric without labels. */
  static long metric(String url, String name) throws Exception {
    var body = HttpClient.newHttpClient()
        .send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body();
    for (String line : body.split("\n"))
      if (line.startsWith(name + " ")) return (long) Double.parseDouble(line.substring(name.length() + 1).trim());
    throw new AssertionError("no metric " + name + " at " + url);
  }

  public static void main(String[] args) {
    try {
      run(args[0], args[1]);
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  static void run(String bootstrap, String metricsUrl) throws Exception {
    int partitions = 6, total = 3000;
    Properties ap = new Properties();
    ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(ap)) {
      admin.createTopics(List.of(new NewTopic("sess", partitions, (short) 1))).all().get();
    }
    Properties pp = new Properties();
    pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    pp.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    Properties cp = new Properties();
    cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    cp.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");

    long incrementalBefore = metric(metricsUrl, "kwire_incremental_fetches_total");
    List<TopicPartition> parts = new ArrayList<>();
    for (int i = 0; i < partitions; i++) parts.add(new TopicPartition("sess", i));
    Map<Integer, Long> next = new HashMap<>();
    int got = 0;
    long sessionsSeen = 0;
    try (var p = new KafkaProducer<String, String>(pp); var c = new KafkaConsumer<String, String>(cp)) {
      c.assign(parts);
      c.seekToBeginning(parts);
      int sent = 0;
      long deadline = System.currentTimeMillis() + 60000;
      while (got < total && System.currentTimeMillis() < deadline) {
        // A few records at a time, across the partitions, while polling.
        for (int i = 0; i < 50 && sent < total; i++, sent++)
          p.send(new ProducerRecord<>("sess", sent % partitions, "k" + sent, "v" + sent));
        p.flush();
        if (sent == total / 3) c.pause(parts.subList(0, 3));
        if (sent == 2 * total / 3) c.resume(parts.subList(0, 3));
        for (var r : c.poll(Duration.ofMillis(100))) {
          long expect = next.getOrDefault(r.partition(), 0L);
          check(r.offset() == expect, "partition " + r.partition() + ": offset " + r.offset() + " after " + expect);
          check(r.value().equals("v" + r.key().substring(1)), "value of " + r.key());
          next.put(r.partition(), expect + 1);
          got++;
        }
        sessionsSeen = Math.max(sessionsSeen, metric(metricsUrl, "kwire_fetch_sessions"));
      }
      for (var r : c.poll(Duration.ofMillis(500))) got++;
    }
    check(got == total, "records consumed: " + got + " of " + total);
    long incremental = metric(metricsUrl, "kwire_incremental_fetches_total") - incrementalBefore;
    check(sessionsSeen >= 1, "no fetch session was cached while the consumer fetched");
    check(incremental >= 10, "incremental fetches answered: " + incremental);
    System.out.println("OK sessions: " + incremental + " incremental fetches");
  }
}
