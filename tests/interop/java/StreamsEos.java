// Kafka Streams with processing.guarantee=exactly_once_v2 against a
// kwire-broker: a word count with a state store, its input written by a plain
// idempotent producer. Launched as a single-file program:
//
//   java -cp <kafka-streams classpath> StreamsEos.java <bootstrap> <mode> [args]
//
//   setup                       creates the input and output topics
//   produce FROM TO             writes input lines FROM..TO-1
//   app STATE_DIR               runs the application until killed
//   wait-consumed N             returns once the application has committed
//                               input offsets adding up to N or more
//   verify LINES                reads the output read_committed: for every
//                               word, the counts 1, 2, ... up to the number
//                               of times lines 0..LINES-1 hold it, in order,
//                               each once
//
// The input is a pure function of the line number, so the test knows what
// the counts must be without keeping anything.
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;

public class StreamsEos {
  static final String APP = "kwire-wordcount";
  static final String INPUT = "words-in";
  static final String OUTPUT = "word-counts";
  static final int PARTITIONS = 3;
  static final int WORDS_PER_LINE = 5;
  static final int VOCABULARY = 40;
  static String bootstrap;

  static void check(boolean cond, String what) {
    if (!cond) throw new AssertionError(what);
  }

  /// Line i of the input: WORDS_PER_LINE words from a small vocabulary.
  static List<String> words(int line) {
    List<String> out = new ArrayList<>();
    for (int j = 0; j < WORDS_PER_LINE; j++) out.add("w" + ((line * 7 + j * 13 + line / 3) % VOCABULARY));
    return out;
  }

  public static void main(String[] args) {
    try {
      bootstrap = args[0];
      switch (args[1]) {
        case "setup" -> setup();
        case "produce" -> produce(Integer.parseInt(args[2]), Integer.parseInt(args[3]));
        case "app" -> app(args[2]);
        case "wait-consumed" -> waitConsumed(Long.parseLong(args[2]));
        case "verify" -> verify(Integer.parseInt(args[2]));
        default -> throw new IllegalArgumentException("unknown mode " + args[1]);
      }
      System.out.println("OK " + args[1]);
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    if (!args[1].equals("app")) System.exit(0);
  }

  static Admin admin() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
    return Admin.create(p);
  }

  static void setup() throws Exception {
    try (Admin a = admin()) {
      a.createTopics(List.of(new NewTopic(INPUT, PARTITIONS, (short) 1), new NewTopic(OUTPUT, PARTITIONS, (short) 1)))
          .all()
          .get();
    }
  }

  static void produce(int from, int to) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "120000");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (int i = from; i < to; i++) {
        // Keyed by line, so lines spread over the partitions.
        producer.send(new ProducerRecord<>(INPUT, "line-" + i, String.join(" ", words(i))));
      }
      producer.flush();
    }
  }

  static void app(String stateDir) throws Exception {
    StreamsBuilder builder = new StreamsBuilder();
    KStream<String, String> lines = builder.stream(INPUT, Consumed.with(Serdes.String(), Serdes.String()));
    lines
        .flatMapValues(line -> Arrays.asList(line.split(" ")))
        .groupBy((key, word) -> word, Grouped.with("by-word", Serdes.String(), Serdes.String()))
        .count(Materialized.as("counts"))
        .toStream()
        .to(OUTPUT, Produced.with(Serdes.String(), Serdes.Long()));
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, APP);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    // Every update goes out: the counts of a word are then exactly 1, 2, ...
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    // A killed instance leaves the group within seconds, not Streams' 45.
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1000);
    KafkaStreams streams = new KafkaStreams(builder.build(), p);
    // A thread that dies ends the program with an error (the test sees it).
    streams.setUncaughtExceptionHandler(e -> {
      e.printStackTrace();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
          .REPLACE_THREAD;
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> streams.close(Duration.ofSeconds(30))));
    streams.start();
    Thread.currentThread().join();
  }

  /// The application's committed input offsets, all partitions together.
  static long consumed(Admin a) throws Exception {
    long sum = 0;
    var offsets = a.listConsumerGroupOffsets(APP).partitionsToOffsetAndMetadata().get();
    for (var e : offsets.entrySet()) {
      if (e.getKey().topic().equals(INPUT) && e.getValue() != null) sum += e.getValue().offset();
    }
    return sum;
  }

  static void waitConsumed(long n) throws Exception {
    try (Admin a = admin()) {
      long deadline = System.currentTimeMillis() + 180_000;
      long seen;
      while ((seen = consumed(a)) < n) {
        check(System.currentTimeMillis() < deadline, "the application committed " + seen + " of " + n + " lines");
        Thread.sleep(200);
      }
      System.out.println("consumed " + seen);
    }
  }

  static void verify(int lines) throws Exception {
    Map<String, Long> expected = new TreeMap<>();
    for (int i = 0; i < lines; i++)
      for (String w : words(i)) expected.merge(w, 1L, Long::sum);

    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class.getName());
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    Map<String, List<Long>> counts = new TreeMap<>();
    try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(p)) {
      List<TopicPartition> parts = new ArrayList<>();
      for (int i = 0; i < PARTITIONS; i++) parts.add(new TopicPartition(OUTPUT, i));
      c.assign(parts);
      c.seekToBeginning(parts);
      // read_committed: the end offsets are the last stable offsets.
      Map<TopicPartition, Long> end = c.endOffsets(parts);
      long deadline = System.currentTimeMillis() + 120_000;
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        check(System.currentTimeMillis() < deadline, "output not read to its end");
        for (ConsumerRecord<String, Long> r : c.poll(Duration.ofMillis(500)))
          counts.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r.value());
      }
    }
    check(counts.keySet().equals(expected.keySet()), "words counted: " + counts.keySet() + ", expected " + expected.keySet());
    for (var e : expected.entrySet()) {
      List<Long> seen = counts.get(e.getKey());
      // Exactly once: each input word raised its count once, and nothing
      // uncommitted (a count ahead of the input) was ever visible.
      for (int i = 0; i < seen.size(); i++) {
        check(seen.get(i) == i + 1,
            "word " + e.getKey() + ": update " + i + " is " + seen.get(i) + " (counts " + seen + ")");
      }
      check(seen.size() == e.getValue(),
          "word " + e.getKey() + ": final count " + seen.size() + ", expected " + e.getValue());
    }
    System.out.println("verified " + expected.size() + " words over " + lines + " lines");
  }
}
