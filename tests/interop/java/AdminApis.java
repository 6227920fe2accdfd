// Kafka's Java AdminClient calls that Kafka's command-line tools do not make
// with the arguments a test needs (tests/interop/admin_apis.sh). Launched as
// a single-file program; prints one line per result, in a stable order, or
// the simple name of the exception a call failed with:
//
//   java -cp <kafka classpath> AdminApis.java <bootstrap> config-resources [TYPE...]
//   java -cp <kafka classpath> AdminApis.java <bootstrap> reassign <topic> <partition> <broker id|cancel>
//   java -cp <kafka classpath> AdminApis.java <bootstrap> alter-log-dir <topic> <partition> <broker id> <dir>
//   java -cp <kafka classpath> AdminApis.java <bootstrap> elect <PREFERRED|UNCLEAN> <topic> <partition>
//   java -cp <kafka classpath> AdminApis.java <bootstrap> quorum
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionReplica;
import org.apache.kafka.common.config.ConfigResource;

public class AdminApis {
  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", args[0]);
    p.put("request.timeout.ms", "20000");
    p.put("default.api.timeout.ms", "30000");
    try (Admin admin = Admin.create(p)) {
      switch (args[1]) {
        case "config-resources" -> configResources(admin, Arrays.copyOfRange(args, 2, args.length));
        case "reassign" -> reassign(admin, new TopicPartition(args[2], Integer.parseInt(args[3])), args[4]);
        case "alter-log-dir" -> alterLogDir(admin, new TopicPartitionReplica(args[2], Integer.parseInt(args[3]),
            Integer.parseInt(args[4])), args[5]);
        case "elect" -> elect(admin, ElectionType.valueOf(args[2]), new TopicPartition(args[3], Integer.parseInt(args[4])));
        case "quorum" -> quorum(admin);
        default -> throw new IllegalArgumentException("unknown command " + args[1]);
      }
    }
    System.exit(0);
  }

  /** The simple name of what a call failed with, or OK. */
  static String outcome(org.apache.kafka.common.KafkaFuture<?> f) throws InterruptedException {
    try {
      f.get();
      return "OK";
    } catch (ExecutionException e) {
      return e.getCause().getClass().getSimpleName();
    }
  }

  static void configResources(Admin admin, String[] types) throws Exception {
    Set<ConfigResource.Type> wanted = new HashSet<>();
    for (String t : types) wanted.add(ConfigResource.Type.valueOf(t));
    List<String> lines = new ArrayList<>();
    for (ConfigResource r : admin.listConfigResources(wanted, new ListConfigResourcesOptions()).all().get())
      lines.add(r.type() + " " + r.name());
    Collections.sort(lines);
    lines.forEach(System.out::println);
  }

  static void reassign(Admin admin, TopicPartition tp, String target) throws Exception {
    Optional<NewPartitionReassignment> to = target.equals("cancel") ? Optional.empty()
        : Optional.of(new NewPartitionReassignment(List.of(Integer.parseInt(target))));
    System.out.println(outcome(admin.alterPartitionReassignments(Map.of(tp, to)).values().get(tp)));
  }

  static void alterLogDir(Admin admin, TopicPartitionReplica replica, String dir) throws Exception {
    System.out.println(outcome(admin.alterReplicaLogDirs(Map.of(replica, dir)).values().get(replica)));
  }

  static void elect(Admin admin, ElectionType type, TopicPartition tp) throws Exception {
    try {
      Map<TopicPartition, Optional<Throwable>> r = admin.electLeaders(type, Set.of(tp)).partitions().get();
      System.out.println(r.get(tp).map(t -> t.getClass().getSimpleName()).orElse("OK"));
    } catch (ExecutionException e) {
      System.out.println(e.getCause().getClass().getSimpleName());
    }
  }

  static void quorum(Admin admin) throws Exception {
    QuorumInfo q = admin.describeMetadataQuorum().quorumInfo().get();
    System.out.println("leader " + q.leaderId() + " epoch " + q.leaderEpoch() + " hw " + q.highWatermark());
    for (QuorumInfo.ReplicaState v : q.voters())
      System.out.println("voter " + v.replicaId() + " leo " + v.logEndOffset());
    for (QuorumInfo.ReplicaState o : q.observers()) System.out.println("observer " + o.replicaId());
    for (Map.Entry<Integer, QuorumInfo.Node> n : new TreeMap<>(q.nodes()).entrySet())
      System.out.println("node " + n.getKey() + " " + n.getValue().endpoints().size() + " endpoint(s)");
  }
}
