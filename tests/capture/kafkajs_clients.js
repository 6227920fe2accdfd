// kafkajs through the capturing proxy: its admin client creates the topics,
// an idempotent producer sends keyed records with headers uncompressed and
// with gzip (the codecs kafkajs has without plugins), a consumer group reads
// them back, and the admin client looks at offsets and the group. Appends
// what must be seen on the wire to EXPECTED.
//   node kafkajs_clients.js BOOTSTRAP EXPECTED
const fs = require("fs");
const { Kafka, CompressionTypes, logLevel } = require("kafkajs");

const [bootstrap, expectedPath] = process.argv.slice(2);
const CODECS = { none: [CompressionTypes.None, 0], gzip: [CompressionTypes.GZIP, 1] };
const N = 40;

async function main() {
  const kafka = new Kafka({ clientId: "kjs", brokers: [bootstrap], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const topics = Object.keys(CODECS).map((c) => `kjs-${c}`);
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: 2 })), waitForLeaders: true });

  const expected = {};
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (const [codec, [compression, codecId]] of Object.entries(CODECS)) {
    const topic = `kjs-${codec}`;
    const records = [];
    const messages = [];
    for (let i = 0; i < N; i++) {
      const value = `kjs ${codec} value ${i} ` + "node".repeat(i % 5);
      const key = `kjs-key-${i % 3}`;
      const headers = i % 4 === 0 ? [["runtime", "node"], ["i", String(i)]] : [];
      messages.push({ key, value, headers: Object.fromEntries(headers) });
      records.push({ value, key, headers });
    }
    await producer.send({ topic, compression, acks: -1, messages });
    expected[topic] = { codec: codecId, records };
  }
  await producer.disconnect();

  const want = new Set(Object.values(expected).flatMap((t) => t.records.map((r) => r.value)));
  const consumer = kafka.consumer({ groupId: "kjs-group" });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kafkajs consumer: ${want.size - seen.size} records never arrived`)), 90000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          seen.add(message.value.toString());
          if ([...want].every((v) => seen.has(v))) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  console.log(`kafkajs consumer kjs-group: ${seen.size} records`);

  for (const topic of topics) await admin.fetchTopicOffsets(topic);
  await admin.fetchOffsets({ groupId: "kjs-group", topics });
  await admin.describeGroups(["kjs-group"]);
  await admin.fetchTopicMetadata({ topics });
  await admin.disconnect();

  const all = JSON.parse(fs.readFileSync(expectedPath, "utf8"));
  Object.assign(all, expected);
  fs.writeFileSync(expectedPath, JSON.stringify(all));
  console.log(`kafkajs: produced ${N * topics.length} records to ${topics.length} topics`);
}

main().catch((e) => {
  console.error(`kafkajs: ${e.stack || e}`);
  process.exit(1);
});
