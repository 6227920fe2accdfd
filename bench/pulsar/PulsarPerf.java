// Throughput of Apache Pulsar's own Java client, as the baseline for
// bench/pulsar/run.sh. Run as a single source file:
//
//   java -cp <pulsar classpath> PulsarPerf.java <serviceUrl> <topic> <records> <recordSize> [latency]
//
// Produces <records> messages of <recordSize> random bytes (one payload, reused,
// as kafka-producer-perf-test does) with batching on, async sends and
// blockIfQueueFull, waits for every send to be acknowledged, then consumes them
// all with a new Consumer from the earliest position (cumulative acks). Prints one
// JSON line on stdout; MB means 2^20 bytes of payload, as in Kafka's perf tools.
//
// With "latency": no batching and at most 5 sends pending, as a Kafka producer
// keeps at most 5 requests in flight; each message stands for one Kafka batch
// of <recordSize> bytes. Prints the sends' latency percentiles (sendAsync to
// acknowledgement) and nothing is consumed.
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pulsar.client.api.Consumer;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.SubscriptionInitialPosition;
import org.apache.pulsar.client.api.SubscriptionType;

public class PulsarPerf {
  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: PulsarPerf <serviceUrl> <topic> <records> <recordSize>");
      System.exit(2);
    }
    String url = args[0];
    String topic = args[1];
    int n = Integer.parseInt(args[2]);
    int size = Integer.parseInt(args[3]);
    byte[] payload = new byte[size];
    Random rnd = new Random(42);
    for (int i = 0; i < size; i++) payload[i] = (byte) ('A' + rnd.nextInt(26));
    double mb = (double) n * size / (1024 * 1024);
    if (args.length > 4 && args[4].equals("latency")) {
      latency(url, topic, n, payload, mb);
      return;
    }

    try (PulsarClient client = PulsarClient.builder().serviceUrl(url).build()) {
      AtomicLong failed = new AtomicLong();
      AtomicReference<Throwable> firstError = new AtomicReference<>();
      long p0, p1;
      try (Producer<byte[]> producer = client.newProducer().topic(topic)
          .enableBatching(true).blockIfQueueFull(true)
          .sendTimeout(120, TimeUnit.SECONDS).create()) {
        p0 = System.nanoTime();
        CompletableFuture<?> last = null;
        for (int i = 0; i < n; i++) {
          last = producer.sendAsync(payload).whenComplete((id, e) -> {
            if (e != null) {
              failed.incrementAndGet();
              firstError.compareAndSet(null, e);
            }
          });
        }
        producer.flush();
        // Sends on one producer complete in order: the last one done means all done.
        if (last != null) last.handle((id, e) -> null).get();
        p1 = System.nanoTime();
      }

      // A new subscription after the writes, starting at the earliest
      // message; the clock starts once it is subscribed.
      Consumer<byte[]> consumer = client.newConsumer().topic(topic).subscriptionName("perf")
          .subscriptionType(SubscriptionType.Exclusive)
          .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest).subscribe();
      long c0 = System.nanoTime();
      long got = 0, bytes = 0;
      Message<byte[]> m = null;
      while (got < n) {
        Message<byte[]> next = consumer.receive(30, TimeUnit.SECONDS);
        if (next == null) break;
        m = next;
        got++;
        bytes += m.getData().length;
        if (got % 1000 == 0) consumer.acknowledgeCumulativeAsync(m);
      }
      long c1 = System.nanoTime();
      if (m != null) consumer.acknowledgeCumulative(m);
      consumer.close();

      double ps = (p1 - p0) / 1e9, cs = (c1 - c0) / 1e9;
      System.out.printf(
          "{\"records\":%d,\"record_size\":%d,\"produce_failed\":%d,\"produce_s\":%.3f,"
              + "\"produce_rps\":%.1f,\"produce_mbps\":%.2f,\"consumed\":%d,\"consume_bytes\":%d,"
              + "\"consume_s\":%.3f,\"consume_rps\":%.1f,\"consume_mbps\":%.2f}%n",
          n, size, failed.get(), ps, n / ps, mb / ps, got, bytes, cs, got / cs,
          bytes / (1024.0 * 1024) / cs);
      if (firstError.get() != null) System.err.println("first send error: " + firstError.get());
      if (failed.get() > 0 || got < n) System.exit(1);
    }
  }

  static void latency(String url, String topic, int n, byte[] payload, double mb) throws Exception {
    try (PulsarClient client = PulsarClient.builder().serviceUrl(url).build();
        Producer<byte[]> producer = client.newProducer().topic(topic)
            .enableBatching(false).maxPendingMessages(5).blockIfQueueFull(true)
            .sendTimeout(120, TimeUnit.SECONDS).create()) {
      sends(producer, Math.max(n / 10, 50), payload);  // warm-up, not counted
      long t0 = System.nanoTime();
      long[] nanos = sends(producer, n, payload);
      double s = (System.nanoTime() - t0) / 1e9;
      long failed = Arrays.stream(nanos).filter(v -> v < 0).count();
      Arrays.sort(nanos);
      System.out.printf("{\"records\":%d,\"record_size\":%d,\"produce_failed\":%d,\"produce_s\":%.3f,"
              + "\"produce_rps\":%.1f,\"produce_mbps\":%.2f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}%n",
          n, payload.length, failed, s, n / s, mb / s, nanos[n / 2] / 1e6, nanos[(int) (n * 0.99)] / 1e6);
      if (failed > 0) System.exit(1);
    }
  }

  // n sends with at most 5 pending; each send's latency (negative: failed).
  // The clock of a send starts when it is handed to the client, after a
  // slot is free, so no send counts time spent waiting for an earlier one.
  static long[] sends(Producer<byte[]> producer, int n, byte[] payload) throws Exception {
    long[] nanos = new long[n];
    Semaphore slots = new Semaphore(5);
    for (int i = 0; i < n; i++) {
      slots.acquire();
      final int at = i;
      final long start = System.nanoTime();
      producer.sendAsync(payload).whenComplete((id, e) -> {
        nanos[at] = e != null ? -1 : System.nanoTime() - start;
        slots.release();
      });
    }
    slots.acquire(5);  // every send done
    return nanos;
  }
}
