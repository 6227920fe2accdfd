// Produces and consumes 10,000 keyed records with headers through a consumer
// group with kafkajs, against the broker given as the first argument.
const { Kafka, logLevel } = require("kafkajs");

const N = 10000;

function fail(msg) {
  console.error("FAIL: " + msg);
  process.exit(1);
}

async function main() {
  const kafka = new Kafka({ clientId: "kwire-interop", brokers: [process.argv[2]], logLevel: logLevel.WARN });
  const topic = "kjs-" + Date.now();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }], waitForLeaders: true });

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let start = 0; start < N; start += 500) {
    const messages = [];
    for (let i = start; i < start + 500; i++) {
      messages.push({ key: "key-" + i, value: "value-" + i, headers: { idx: String(i), src: "kafkajs" } });
    }
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();

  const group = "grp-kafkajs";
  const consumer = kafka.consumer({ groupId: group });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await consumer.run({
    autoCommit: true,
    eachMessage: async ({ message }) => {
      const key = message.key.toString();
      if (seen.has(key)) fail("duplicate " + key);
      if (message.value.toString() !== "value-" + key.slice(4) || message.headers.idx.toString() !== key.slice(4)) {
        fail("bad record " + key);
      }
      seen.add(key);
      if (seen.size === N) done();
    },
  });
  const timer = setTimeout(() => fail("consumed " + seen.size + " of " + N), 90000);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();  // commits what was consumed

  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const total = offsets[0].partitions.reduce((sum, p) => sum + Number(p.offset), 0);
  if (total !== N) fail("committed " + total);
  const groups = await admin.listGroups();
  if (!groups.groups.some((g) => g.groupId === group)) fail("group not listed");
  await admin.disconnect();
  console.log("OK kafkajs: " + N + " records produced and consumed through group " + group);
}

main().catch((e) => fail(e.stack || String(e)));
