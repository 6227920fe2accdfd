package kwire.connect;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.Map;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;

/**
 * Appends each record's value and a newline. Lines reach the disk before
 * Connect commits the consumer offsets (flush), so a committed record is never
 * lost; records after the last commit may be written again by the next owner.
 */
public class LineFileSinkTask extends SinkTask {
  private FileOutputStream out;
  private String path;

  @Override public String version() { return "1"; }

  @Override public void start(Map<String, String> props) {
    path = props.get("file");
    try {
      out = new FileOutputStream(path, true);
    } catch (IOException e) {
      throw new ConnectException("opening " + path, e);
    }
  }

  @Override public void put(Collection<SinkRecord> records) {
    StringBuilder lines = new StringBuilder();
    for (SinkRecord r : records) lines.append(r.value()).append('\n');
    try {
      out.write(lines.toString().getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new ConnectException("writing " + path, e);
    }
  }

  @Override public void flush(Map<TopicPartition, OffsetAndMetadata> offsets) {
    try {
      out.getFD().sync();
    } catch (IOException e) {
      throw new ConnectException("syncing " + path, e);
    }
  }

  @Override public void stop() {
    try {
      out.close();
    } catch (IOException e) {
      throw new ConnectException("closing " + path, e);
    }
  }
}
