// Apache Pulsar's own Java client as a test peer, run as a single source file
// (java -cp <pulsar classpath> PulsarPeer.java ...). One JSON object per line.
//
//   produce <serviceUrl> <topic> <n> <batch:true|false> [prefix] [compression]
//       key <prefix>-i, value "value-i", event time 1700000000000+i, property i;
//       compression: NONE (default), LZ4, ZLIB, ZSTD or SNAPPY
//   consume <serviceUrl> <topic[,topic...]> <n> <subscription> [timeoutMs]
//       subscribes at the earliest position, prints and acknowledges n messages
//   shared <serviceUrl> <topic> <subscription> <idleMs> <doneFile>
//       one consumer of a Shared subscription (created at the earliest
//       position): prints {"ready":true} once subscribed, then one line per
//       message ({"value","topic","id","redelivery","at"}: redelivery is
//       Pulsar's redelivery count, at the epoch ms it was received) and
//       acknowledges it; stops once doneFile exists (the messages are all
//       produced) and nothing came for idleMs
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.CompressionType;
import org.apache.pulsar.client.api.Consumer;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.SubscriptionInitialPosition;
import org.apache.pulsar.client.api.SubscriptionType;

public class PulsarPeer {
  static String quote(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    String url = args[1];
    String topic = args[2];
    try (PulsarClient client = PulsarClient.builder().serviceUrl(url).build()) {
      if (mode.equals("produce")) {
        int n = Integer.parseInt(args[3]);
        boolean batch = Boolean.parseBoolean(args[4]);
        String prefix = args.length > 5 ? args[5] : "key";
        CompressionType codec = CompressionType.valueOf(args.length > 6 ? args[6] : "NONE");
        try (Producer<byte[]> p = client.newProducer().topic(topic).enableBatching(batch)
                .batchingMaxMessages(100).batchingMaxPublishDelay(50, TimeUnit.MILLISECONDS)
                .compressionType(codec).compressionMinMsgBodySize(0).create()) {
          java.util.List<java.util.concurrent.CompletableFuture<MessageId>> sent = new java.util.ArrayList<>();
          for (int i = 0; i < n; i++) {
            sent.add(p.newMessage().key(prefix + "-" + i)
                .value(("value-" + i).getBytes(StandardCharsets.UTF_8))
                .eventTime(1700000000000L + i).property("i", Integer.toString(i)).sendAsync());
          }
          p.flush();
          for (var f : sent) System.out.println("{\"id\":" + quote(f.get().toString()) + "}");
        }
      } else if (mode.equals("consume")) {
        int n = Integer.parseInt(args[3]);
        String sub = args[4];
        long timeout = args.length > 5 ? Long.parseLong(args[5]) : 20000;
        try (Consumer<byte[]> c = client.newConsumer().topic(topic.split(",")).subscriptionName(sub)
                .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest).subscribe()) {
          int got = 0;
          while (got < n) {
            Message<byte[]> m = c.receive((int) timeout, TimeUnit.MILLISECONDS);
            if (m == null) break;
            StringBuilder props = new StringBuilder("{");
            for (Map.Entry<String, String> e : m.getProperties().entrySet()) {
              if (props.length() > 1) props.append(',');
              props.append(quote(e.getKey())).append(':').append(quote(e.getValue()));
            }
            props.append('}');
            System.out.println("{\"key\":" + quote(m.getKey()) + ",\"value\":"
                + quote(new String(m.getValue(), StandardCharsets.UTF_8)) + ",\"event_time\":"
                + m.getEventTime() + ",\"properties\":" + props + ",\"id\":" + quote(m.getMessageId().toString())
                + ",\"topic\":" + quote(m.getTopicName())
                + (m.hasIndex() ? ",\"index\":" + m.getIndex().get() : "") + "}");
            c.acknowledge(m);
            got++;
          }
          System.out.flush();
          if (got < n) {
            System.err.println("received " + got + " of " + n);
            System.exit(1);
          }
        }
      } else if (mode.equals("shared")) {
        shared(client, topic, args[3], Long.parseLong(args[4]), Path.of(args[5]));
      } else {
        System.err.println("unknown mode " + mode);
        System.exit(2);
      }
    }
  }

  static void shared(PulsarClient client, String topic, String sub, long idleMs, Path done) throws Exception {
    try (Consumer<byte[]> c = client.newConsumer().topic(topic).subscriptionName(sub)
            .subscriptionType(SubscriptionType.Shared)
            .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest).subscribe()) {
      System.out.println("{\"ready\":true}");
      // A bound, so that a peer the messages never reach cannot outlive the test.
      long deadline = System.currentTimeMillis() + 150_000;
      long last = System.currentTimeMillis();
      long doneAt = -1;
      while (true) {
        Message<byte[]> m = c.receive(200, TimeUnit.MILLISECONDS);
        long now = System.currentTimeMillis();
        if (now >= deadline) {
          System.err.println("shared consumer still running after 150 s");
          System.exit(1);
        }
        if (m != null) {
          System.out.println("{\"value\":" + quote(new String(m.getValue(), StandardCharsets.UTF_8))
              + ",\"topic\":" + quote(m.getTopicName()) + ",\"id\":" + quote(m.getMessageId().toString())
              + ",\"redelivery\":" + m.getRedeliveryCount() + ",\"at\":" + now + "}");
          c.acknowledge(m);
          last = now;
          continue;
        }
        if (doneAt < 0 && Files.exists(done)) doneAt = now;
        if (doneAt >= 0 && now - Math.max(last, doneAt) >= idleMs) break;
      }
    }
  }
}
