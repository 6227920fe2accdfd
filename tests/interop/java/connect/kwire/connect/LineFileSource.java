package kwire.connect;

import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.source.ExactlyOnceSupport;
import org.apache.kafka.connect.source.SourceConnector;

/**
 * Source connector for the Connect interop test: the complete lines of one
 * text file ("file"), in order, to one topic ("topic"). One task; where it
 * resumes comes from the offsets Connect stored for the file.
 */
public class LineFileSource extends SourceConnector {
  static final ConfigDef CONFIG = new ConfigDef()
      .define("file", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "file read")
      .define("topic", ConfigDef.Type.STRING, ConfigDef.Importance.HIGH, "topic written");

  private Map<String, String> props;

  @Override public void start(Map<String, String> props) {
    CONFIG.parse(props);
    this.props = props;
  }
  @Override public Class<? extends Task> taskClass() { return LineFileSourceTask.class; }
  @Override public List<Map<String, String>> taskConfigs(int maxTasks) { return List.of(props); }
  @Override public void stop() {}
  @Override public ConfigDef config() { return CONFIG; }
  @Override public String version() { return "1"; }
  // Its offsets are positions in the file: with them in the same transaction
  // as the records, a restarted task neither skips nor repeats a line.
  @Override public ExactlyOnceSupport exactlyOnceSupport(Map<String, String> props) {
    return ExactlyOnceSupport.SUPPORTED;
  }
}
